import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DictionaryError, makeDictionary, parseDictionary } from './dictionary.js';

test('a dictionary round-trips through JSON with its hash', () => {
  const d = makeDictionary([
    { id: 1, fmt: 'user %s', file: 'a.ts', line: 3 },
    { id: 2, fmt: 'paid %d', file: 'a.ts', line: 4 },
  ]);
  assert.match(d.hash, /^[0-9a-f]{16}$/);
  assert.deepEqual(parseDictionary(JSON.stringify(d)), d);
});

test('hash ignores file and line but not the format', () => {
  const a = makeDictionary([{ id: 1, fmt: 'x %d', file: 'a.ts', line: 1 }]);
  const b = makeDictionary([{ id: 1, fmt: 'x %d', file: 'b.ts', line: 9 }]);
  const c = makeDictionary([{ id: 1, fmt: 'x %s', file: 'a.ts', line: 1 }]);
  assert.equal(a.hash, b.hash);
  assert.notEqual(a.hash, c.hash);
});

test('tampered, duplicate or malformed dictionaries are rejected', () => {
  const d = makeDictionary([{ id: 1, fmt: 'x %d', file: 'a.ts', line: 1 }]);
  const tampered = JSON.stringify({ ...d, formats: [{ ...d.formats[0], fmt: 'y %d' }] });
  assert.throws(() => parseDictionary(tampered), DictionaryError);
  assert.throws(() => parseDictionary('{'), DictionaryError);
  assert.throws(() => parseDictionary('{"binlogDictionary":2}'), DictionaryError);
  assert.throws(
    () =>
      makeDictionary([
        { id: 1, fmt: 'a', file: '', line: 0 },
        { id: 1, fmt: 'b', file: '', line: 0 },
      ]),
    DictionaryError,
  );
  assert.throws(() => makeDictionary([{ id: 1, fmt: 'bad %q', file: '', line: 0 }]), DictionaryError);
});
