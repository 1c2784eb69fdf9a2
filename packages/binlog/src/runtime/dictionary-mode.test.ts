import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeDictionary } from '../codec/index.js';
import { DecodeError, decodeFile } from '../decode/index.js';
import { LoggerError } from './errors.js';
import { formatId, registerDictionary } from './format-table.js';
import { createLogger } from './logger.js';

const dir = mkdtempSync(join(tmpdir(), 'binlog-dict-'));
const dict = makeDictionary([
  { id: 1, fmt: 'user %s paid %d cents in %f s', file: 'a.ts', line: 3 },
  { id: 2, fmt: 'plain', file: 'a.ts', line: 4 },
  { id: 3, fmt: '%d %d %d %d %d %d %d %d', file: 'a.ts', line: 5 },
]);

test('mode 2: formats of a registered dictionary, passed boxed (a number is a message); mixed with run-time formats', () => {
  const f = join(dir, 'm2.blog');
  const log = createLogger({ dest: f });
  log.info('before registration %d', 1);
  registerDictionary(dict);
  registerDictionary(makeDictionary(dict.formats)); // same hash: fine
  const [f1, f2, f3] = [formatId(1)!, formatId(2)!, formatId(3)!];
  log.info(f1, 'bob', 1200, 0.35);
  log.child({ req: 7 }).warn(f2);
  log.info(f3, 1, 2, 3, 4, 5, 6, 7, 8);
  log.info(f1, 'missing');
  log.error(99, 'x'); // a number is a message, never an id
  log.info((globalThis as unknown as Record<string, unknown[]>).__binlogFormats![2], 'extra');
  log.info('run-time %s', 'too');
  log.close();
  // without the dictionary, the run-time records before the first pre-compiled one decode
  const bare = decodeFile(f);
  assert.deepEqual(
    bare.events.map((e) => e.msg),
    ['before registration 1'],
  );
  assert.equal(bare.stats.needsDictionary, dict.hash);
  assert.ok(bare.stats.skippedBytes > 0);
  // a newer dictionary that only adds formats (what precompile does without --prune) decodes the old log
  const newer = makeDictionary([
    ...dict.formats,
    { id: dict.formats.length + 1, fmt: 'added %s', file: 'n.ts', line: 9 },
  ]);
  assert.notEqual(newer.hash, dict.hash);
  assert.equal(decodeFile(f, { dictionary: newer }).events.length, 8);
  const { events, stats } = decodeFile(f, { dictionary: dict });
  assert.deepEqual(
    events.map((e) => [e.id, e.msg]),
    [
      [0, 'before registration 1'],
      [1, 'user bob paid 1200 cents in 0.35 s'],
      [2, 'plain'],
      [3, '1 2 3 4 5 6 7 8'],
      [1, 'user missing paid %d cents in %f s'],
      [0x100000, '99 x'],
      [2, 'plain extra'],
      [0, 'run-time too'],
    ],
  );
  assert.equal(events[2]!.fields, '{"req":7}');
  assert.equal(stats.unknownIds, 0);
  const other = makeDictionary([{ id: 1, fmt: 'other %d', file: 'b.ts', line: 1 }]);
  assert.throws(
    () => decodeFile(f, { dictionary: other }),
    (e: unknown) => e instanceof DecodeError && e.code === 'DICTIONARY_MISMATCH',
  );
  assert.throws(
    () => registerDictionary(other),
    (e: unknown) => e instanceof LoggerError && e.code === 'DICTIONARY_CONFLICT',
  );
  writeFileSync(join(dir, 'dict.json'), JSON.stringify(dict));
});

test('a tampered dictionary is refused at registration', () => {
  assert.throws(() => registerDictionary({ ...dict, hash: '0000000000000000' }), LoggerError);
});
