import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cursor, EV_CTX, EV_PACKED, readRecord } from '../codec/index.js';
import type { ArgKind } from '../format/index.js';
import { preciseMicros } from './clock.js';
import { buildWriter, type Context, type RecordSink } from './encoder.js';

/** A sink whose previous record is at 1000 µs and whose clock reads `now` (a stub coarse clock). */
function sink(size = 4096, now = 1000): RecordSink & { now: number } {
  const buf = Buffer.alloc(size);
  const s = {
    buf,
    view: new DataView(buf.buffer, buf.byteOffset, buf.length),
    pos: 0,
    end: size,
    lastT: 1000,
    closed: false,
    dictWritten: true,
    fmtSeen: new Uint8Array(8).fill(1),
    now,
    coarse: { micros: () => s.now },
  };
  return s;
}

const ctx = (id: number, written = true): Context => ({ id, json: '{}', written });

function readBack(s: RecordSink, specs: readonly ArgKind[]) {
  const c = new Cursor(s.buf, 0, s.pos);
  const r = readRecord(c, { time: 1000 }, () => specs);
  assert.ok(c.done(), 'no trailing bytes');
  assert.equal(r.kind, 'event');
  return r as Extract<typeof r, { kind: 'event' }>;
}

test('a packed record round-trips ints, floats, ASCII and non-ASCII strings, JSON', () => {
  const specs: ArgKind[] = ['d', 's', 'f', 'x', 's', 'j'];
  const long = 'é'.repeat(100) + 'x'.repeat(200);
  const cases: unknown[][] = [
    [5, 'alice', 1.1, -1, 'héllo', { a: [1] }],
    [-(2 ** 31), '', Number.NaN, 2 ** 31 - 1, long, 'str'],
    [0, 'x'.repeat(127), -0, 127, 'x'.repeat(128), null],
  ];
  for (const args of cases) {
    const s = sink(4096, 1007);
    const w = buildWriter(300, -1, specs);
    assert.equal(w(s, 3, null, 6, args[0], args[1], args[2], args[3], args[4], args[5]), true);
    assert.equal(s.buf[0], 3 | EV_PACKED);
    assert.equal(s.lastT, 1007);
    const r = readBack(s, specs);
    assert.equal(r.id, 300);
    assert.equal(r.time, 1007);
    assert.equal(r.level, 30);
    const expected = args.map((v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : v));
    const got = r.args.map((v) => (typeof v === 'object' && v !== null ? v.json : v));
    assert.deepEqual(got, expected);
    assert.ok(Object.is(got[2], expected[2]), '-0 and NaN stay as they were');
  }
});

test('a context id and long deltas are written; the record is packed and smaller than tagged', () => {
  const s = sink(4096, 1000 + 2 ** 40);
  const w = buildWriter(1, -1, ['d', 's', 'f']);
  assert.equal(w(s, 4, ctx(300), 3, 1200, 'bob', 0.35), true);
  assert.equal(s.buf[0], 4 | EV_PACKED | EV_CTX);
  const r = readBack(s, ['d', 's', 'f']);
  assert.equal(r.ctx, 300);
  assert.equal(r.time, 1000 + 2 ** 40);
  assert.deepEqual(r.args, [1200, 'bob', 0.35]);
  // tag, id, dt (6 bytes), ctx (2), zigzag 1200 (2), len + 3, f64
  assert.equal(s.pos, 1 + 1 + 6 + 2 + 2 + 4 + 8);
});

test('the time comes from the clock and never goes back; the precise clock is process.hrtime in µs', () => {
  const w = buildWriter(1, -1, ['d']);
  const s = sink(4096, 900); // a clock behind the previous record
  assert.equal(w(s, 3, null, 1, 5), true);
  assert.equal(s.lastT, 1000);
  assert.equal(readBack(s, ['d']).time, 1000);

  const p = { ...sink(), coarse: null };
  p.lastT = preciseMicros();
  const before = p.lastT;
  assert.equal(w(p, 3, null, 1, 5), true);
  assert.ok(p.lastT >= before && p.lastT <= preciseMicros(), 'between two preciseMicros() readings');
});

test('anything unexpected declines and leaves the sink as it was', () => {
  const w = buildWriter(1, 2, ['d', 's', 'f']);
  const declined: unknown[][] = [
    [1.5, 'a', 1],
    [-0, 'a', 1],
    [2 ** 31, 'a', 1],
    [1n, 'a', 1],
    ['1', 'a', 1],
    [1, 5, 1],
    [1, 'a', '1'],
    [1, 'a', undefined],
  ];
  for (const args of declined) {
    const s = sink();
    assert.equal(w(s, 3, null, 3, args[0], args[1], args[2]), false, String(args[0]));
    assert.equal(s.pos, 0);
    assert.equal(s.lastT, 1000);
  }
  const states: [string, (s: ReturnType<typeof sink>) => void, Context | null, number][] = [
    ['wrong argument count', () => {}, null, 2],
    ['closed', (s) => (s.closed = true), null, 3],
    ['format not yet defined', (s) => (s.fmtSeen[2] = 0), null, 3],
    ['format index beyond the marks', (s) => (s.fmtSeen = new Uint8Array(2).fill(1)), null, 3],
    ['context not yet defined', () => {}, ctx(5, false), 3],
  ];
  for (const [what, set, cx, argc] of states) {
    const s = sink();
    set(s);
    assert.equal(w(s, 3, cx, argc, 1, 'a', 1), false, what);
    assert.equal(s.pos, 0, what);
  }
  const d = buildWriter(9, -1, ['d']);
  const nd = sink();
  nd.dictWritten = false;
  assert.equal(d(nd, 3, null, 1, 1), false, 'dictionary hash not yet written');

  const s = sink(40);
  s.pos = 30;
  assert.equal(w(s, 3, null, 3, 1, 'abc', 1), false);
  assert.equal(s.pos, 30);
  const t = sink(300);
  assert.equal(w(t, 3, null, 3, 1, 'é'.repeat(200), 1), false, 'a non-ASCII string that does not fit');
  assert.equal(t.pos, 0);
});

test('formats without arguments and above six arguments', () => {
  const s = sink();
  assert.equal(buildWriter(0x100000, 0, [])(s, 1, null, 0), true);
  assert.deepEqual(readBack(s, []).args, []);
  const seven = buildWriter(2, -1, ['d', 'd', 'd', 'd', 'd', 'd', 'd']);
  assert.equal(seven(sink(), 1, null, 7, 1, 2, 3, 4, 5, 6), false);
});
