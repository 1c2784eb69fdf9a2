import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { logExcerpt } from './demo-log-excerpt.js';
import { openLog } from './log.js';

const root = mkdtempSync(join(tmpdir(), 'ckpt-log-excerpt-'));
after(() => rmSync(root, { recursive: true, force: true }));

function writeLog(name: string, lines: number): string {
  const path = join(root, name);
  const log = openLog(path, 3, { pid: 7 });
  for (let i = 0; i < lines; i++) log.info('line %d of %s', i, 'the run');
  log.close();
  return path;
}

test('first and last lines of a real binlog file, with the count', () => {
  const x = logExcerpt(writeLog('ten.log.bin', 10), 3, 2);
  assert.equal(x.count, 10);
  assert.equal(x.skippedBytes, 0);
  assert.deepEqual(
    x.head.map((l) => l.replace(/^\S+ /, '')),
    [0, 1, 2].map((i) => `INFO line ${i} of the run {"pid":7}`),
  );
  assert.deepEqual(
    x.tail.map((l) => /line (\d+)/.exec(l)?.[1]),
    ['8', '9'],
  );
  assert.match(x.head[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO /);
});

test('a short log is all head, no tail', () => {
  const x = logExcerpt(writeLog('four.log.bin', 4), 3, 2);
  assert.equal(x.count, 4);
  assert.equal(x.head.length, 4);
  assert.deepEqual(x.tail, []);
});

test('a missing log is an error with a code', () => {
  assert.throws(() => logExcerpt(join(root, 'none.log.bin'), 3, 3), { code: 'NO_FILE' });
});
