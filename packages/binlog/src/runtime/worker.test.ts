// Worker threads: each thread builds its own logger on its own file (binlog does not share a logger
// across threads). The main thread decodes every file.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { decodeFile } from '../decode/index.js';

const dir = mkdtempSync(join(tmpdir(), 'binlog-worker-'));
const index = pathToFileURL(join(import.meta.dirname, '..', 'index.js')).href;

const code = `
import { createLogger } from ${JSON.stringify(index)};
import { workerData, threadId } from 'node:worker_threads';
const log = createLogger({ dest: workerData.file, fields: { thread: threadId }, clock: workerData.clock });
for (let i = 0; i < 5000; i++) log.info('worker %d record %d', workerData.n, i);
if (workerData.n % 2) log.close(); // the others rely on the flush when the thread ends
`;

test('each worker thread logs to its own file; all records decode', async () => {
  const files = [0, 1, 2, 3].map((n) => join(dir, `w${n}.blog`));
  await Promise.all(
    files.map(
      (file, n) =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), {
            workerData: { file, n, clock: n < 2 ? 'precise' : 'coarse' },
          });
          w.on('error', reject);
          w.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`worker exit ${c}`))));
        }),
    ),
  );
  files.forEach((file, n) => {
    const { events, stats } = decodeFile(file);
    assert.equal(stats.skippedBytes, 0);
    assert.equal(events.length, 5000);
    assert.equal(events[4999]!.msg, `worker ${n} record 4999`);
    assert.match(events[0]!.fields ?? '', /^\{"thread":\d+\}$/);
    for (let i = 1; i < events.length; i++) assert.ok(events[i]!.time >= events[i - 1]!.time);
  });
});
