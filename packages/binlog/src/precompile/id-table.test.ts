import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeDictionary } from '../codec/dictionary.js';
import { IdTable } from './id-table.js';

test('identical formats share an id; new ones are numbered from 1', () => {
  const t = new IdTable();
  assert.equal(t.idFor('a %d', 'x.ts', 1), 1);
  assert.equal(t.idFor('b', 'x.ts', 2), 2);
  assert.equal(t.idFor('a %d', 'y.ts', 9), 1);
  assert.deepEqual(t.toDictionary().formats, [
    { id: 1, fmt: 'a %d', file: 'x.ts', line: 1 },
    { id: 2, fmt: 'b', file: 'x.ts', line: 2 },
  ]);
});

test('previous ids are kept, new formats go above the highest, unused ones are kept unless pruned', () => {
  const prev = makeDictionary([
    { id: 3, fmt: 'old %s', file: 'a.ts', line: 1 },
    { id: 7, fmt: 'gone', file: 'a.ts', line: 2 },
  ]);
  const t = new IdTable(prev);
  assert.equal(t.idFor('new', 'b.ts', 4), 8);
  assert.equal(t.idFor('old %s', 'b.ts', 5), 3);
  assert.equal(t.usedCount, 2);
  assert.deepEqual(
    t.toDictionary().formats.map((f) => [f.id, f.fmt, f.file, f.line]),
    [
      [3, 'old %s', 'b.ts', 5],
      [7, 'gone', 'a.ts', 2],
      [8, 'new', 'b.ts', 4],
    ],
  );
  assert.deepEqual(
    t.toDictionary(true).formats.map((f) => f.id),
    [3, 8],
  );
});
