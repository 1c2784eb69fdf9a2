import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cursor } from './cursor.js';
import { CodecError } from './errors.js';
import { safeJson } from './json-text.js';
import { JsonArg, readValue, writeValue } from './value.js';

function roundTrip(v: unknown): unknown {
  const b = Buffer.alloc(65536);
  const end = writeValue(b, 0, b.length, v);
  assert.ok(end > 0);
  const c = new Cursor(b, 0, end);
  const out = readValue(c);
  assert.ok(c.done(), 'no trailing bytes');
  return out;
}

test('numbers round-trip exactly, including -0, NaN, infinities and beyond 2^53', () => {
  for (const v of [
    0,
    1,
    127,
    128,
    -1,
    2 ** 31 - 1,
    -(2 ** 31),
    2 ** 31,
    2 ** 53,
    2 ** 53 + 2,
    -(2 ** 60),
    1.5,
    0.1,
    Number.MIN_VALUE,
    Number.MAX_VALUE,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
  ]) {
    assert.ok(Object.is(roundTrip(v), v), `value ${v}`);
  }
  assert.ok(Object.is(roundTrip(-0), -0));
});

test('bigints, booleans, null and undefined round-trip', () => {
  for (const v of [0n, -1n, 2n ** 64n + 1n, -(10n ** 40n), true, false, null, undefined])
    assert.equal(roundTrip(v), v);
});

test('strings: empty, ASCII, long, non-ASCII round-trip; lone surrogates become U+FFFD', () => {
  for (const s of [
    '',
    'a',
    'x'.repeat(127),
    'y'.repeat(128),
    'z'.repeat(5000),
    '日'.repeat(200), // long strings are written before their length is known (3-byte varint after)
    `${'é'.repeat(100)}😀${'x'.repeat(300)}`,
    'héllo wörld',
    '日本語',
    '😀 emoji',
    'a\u0000b',
  ]) {
    assert.equal(roundTrip(s), s);
  }
  assert.equal(roundTrip('a\ud800b'), 'a\ufffdb');
  assert.equal(roundTrip('\udc00'), '\ufffd');
});

test('objects are recorded as JSON text; cycles do not throw', () => {
  const o: Record<string, unknown> = { a: 1, b: [1, 'x'], n: 5n };
  o.self = o;
  const v = roundTrip(o);
  assert.ok(v instanceof JsonArg);
  assert.deepEqual(v.value(), { a: 1, b: [1, 'x'], n: '5', self: '[Circular]' });
  const bad = {
    toJSON() {
      throw new Error('no');
    },
  };
  assert.equal(safeJson(bad), '"[unserializable]"');
  assert.equal((roundTrip([1, { x: null }]) as JsonArg).json, '[1,{"x":null}]');
});

test('functions and symbols are recorded as text', () => {
  assert.equal(
    roundTrip(function named() {}),
    '[Function named]',
  );
  assert.equal(roundTrip(Symbol('s')), 'Symbol(s)');
});

test('a value that does not fit returns -1; short input is a CodecError', () => {
  const b = Buffer.alloc(4);
  assert.equal(writeValue(b, 0, 4, 'hello'), -1);
  assert.equal(writeValue(b, 0, 4, 1.5), -1);
  const full = Buffer.alloc(16);
  const end = writeValue(full, 0, 16, 'hello');
  assert.throws(
    () => readValue(new Cursor(full, 0, end - 1)),
    (e: unknown) => e instanceof CodecError && e.code === 'SHORT_INPUT',
  );
  assert.throws(
    () => readValue(new Cursor(Buffer.from([0x7f]))),
    (e: unknown) => e instanceof CodecError && e.code === 'CORRUPT',
  );
});

test('short strings (read without a native call) round-trip, ASCII or not', () => {
  for (let n = 0; n <= 10; n++) {
    for (const s of [
      'abcdefghijk'.slice(0, n),
      'é'.repeat(n >> 1),
      `${'x'.repeat(Math.max(0, n - 1))}\u0080`,
    ]) {
      assert.equal(roundTrip(s), s);
    }
  }
});
