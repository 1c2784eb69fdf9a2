// Files as services use them: several writers on one path (worker threads, processes), a new run
// appending, external rotation (rename, copytruncate), deletion, built-in rotation with retention.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type DecodedEvent, decodeFile } from '../decode/index.js';
import { createLogger } from './logger.js';

const dir = mkdtempSync(join(tmpdir(), 'binlog-files-'));
const index = pathToFileURL(join(import.meta.dirname, '..', 'index.js')).href;
const N = 20000;

/** Every writer's records, complete and in order (writer = the `w` field). */
function assertComplete(events: readonly DecodedEvent[], writers: string[], n: number): void {
  const by = new Map<string, number[]>();
  for (const e of events) {
    const w = JSON.parse(e.fields ?? '{}').w as string;
    const a = by.get(w) ?? [];
    by.set(w, a);
    a.push(e.args[1] as number);
  }
  assert.deepEqual([...by.keys()].sort(), [...writers].sort());
  for (const [w, seq] of by) {
    assert.equal(seq.length, n, `writer ${w}: ${seq.length} of ${n}`);
    assert.deepEqual(
      seq,
      Array.from({ length: n }, (_, i) => i),
      `writer ${w}`,
    );
  }
}

const workerCode = `
import { createLogger } from ${JSON.stringify(index)};
import { workerData } from 'node:worker_threads';
const log = createLogger({ dest: workerData.file, fields: { w: workerData.w }, bufferSize: 4096 * (1 + workerData.n) });
for (let i = 0; i < ${N}; i++) log.info('writer %s record %d of %s', workerData.w, i, 'abcdefgh');
if (workerData.n % 2) log.close();
`;

test('4 worker threads on one path: no record lost', async () => {
  const file = join(dir, 'threads.blog');
  const names = ['t0', 't1', 't2', 't3'];
  await Promise.all(
    names.map(
      (w, n) =>
        new Promise<void>((resolve, reject) => {
          const t = new Worker(new URL(`data:text/javascript,${encodeURIComponent(workerCode)}`), {
            workerData: { file, w, n },
          });
          t.on('error', reject);
          t.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`worker exit ${c}`))));
        }),
    ),
  );
  const { events, stats } = decodeFile(file);
  assert.equal(stats.skippedBytes, 0);
  assert.equal(stats.writers, 4);
  assertComplete(events, names, N);
});

test('2 processes on one path, and a second run appends: no record lost', async () => {
  const file = join(dir, 'procs.blog');
  const script = join(dir, 'proc.mjs');
  writeFileSync(
    script,
    `import { createLogger } from ${JSON.stringify(index)};
const [file, w] = process.argv.slice(2);
const log = createLogger({ dest: file, fields: { w } });
for (let i = 0; i < ${N}; i++) log.info('writer %s record %d of %s', w, i, 'abcdefgh');
`,
  );
  const run = (w: string): Promise<number | null> =>
    new Promise((resolve) =>
      spawn(process.execPath, [script, file, w], { stdio: 'inherit' }).on('exit', resolve),
    );
  assert.deepEqual(await Promise.all([run('p1'), run('p2')]), [0, 0]);
  assert.equal(await run('p3'), 0); // a later run: appended, the earlier records stay
  const { events, stats } = decodeFile(file);
  assert.equal(stats.skippedBytes, 0);
  assertComplete(events, ['p1', 'p2', 'p3'], N);
});

test('copytruncate: the file after truncation decodes on its own, with correct times', () => {
  const file = join(dir, 'ct.blog');
  const log = createLogger({ dest: file });
  for (let i = 0; i < 1000; i++) log.info('before %d', i);
  log.flush();
  copyFileSync(file, `${file}.1`);
  truncateSync(file, 0);
  const t0 = Date.now();
  for (let i = 0; i < 1000; i++) log.info('after %d', i);
  log.close();
  const old = decodeFile(`${file}.1`);
  assert.equal(old.events.length, 1000);
  const { events, stats } = decodeFile(file);
  assert.equal(stats.skippedBytes, 0, 'no hole of zeros before the new records');
  assert.equal(events.length, 1000);
  assert.equal(events[999]!.msg, 'after 999');
  assert.ok(Math.abs(events[0]!.time - t0) < 60000, 'dated now, not 1970');
});

test('renamed (logrotate create) or deleted: the next write goes to a new file at the path', () => {
  const file = join(dir, 'moved.blog');
  const log = createLogger({ dest: file });
  log.info('one %d', 1);
  log.flush();
  renameSync(file, `${file}.1`);
  log.info('two %d', 2);
  log.flush();
  unlinkSync(file);
  log.info('three %d', 3);
  log.close();
  assert.deepEqual(
    decodeFile(`${file}.1`).events.map((e) => e.msg),
    ['one 1'],
  );
  assert.deepEqual(
    decodeFile(file).events.map((e) => e.msg),
    ['three 3'],
  );
  assert.equal(log.stats().reopens, 2);
});

test('reopen(): flushes, then writes to the file now at the path', () => {
  const file = join(dir, 'reopen.blog');
  const log = createLogger({ dest: file });
  log.info('a');
  log.reopen();
  log.info('b');
  log.close();
  assert.deepEqual(
    decodeFile(file).events.map((e) => e.msg),
    ['a', 'b'],
  );
});

test('built-in rotation by size keeps the newest pieces; each piece decodes on its own', () => {
  const sub = mkdtempSync(join(dir, 'rot-'));
  const file = join(sub, 'app.blog');
  const log = createLogger({ dest: file, bufferSize: 8192, rotate: { size: 32768, keep: 3 } });
  const total = 30000;
  for (let i = 0; i < total; i++) log.info('rotated %d', i);
  log.close();
  const pieces = readdirSync(sub)
    .filter((n) => n !== 'app.blog')
    .sort();
  assert.equal(pieces.length, 3);
  assert.ok(log.stats().rotations > 3);
  const seqs = [...pieces.map((p) => join(sub, p)), file].map((p) => {
    const { events, stats } = decodeFile(p);
    assert.equal(stats.skippedBytes, 0, p);
    assert.ok(events.length > 0, p);
    return events.map((e) => e.args[0] as number);
  });
  const all = seqs.flat();
  for (let i = 1; i < all.length; i++)
    assert.equal(all[i], all[i - 1]! + 1, 'the kept pieces are contiguous');
  assert.equal(all[all.length - 1], total - 1);
  assert.ok(existsSync(file));
});

test('built-in rotation by time (intervalMs) keeps the newest pieces; each piece decodes on its own', async () => {
  const sub = mkdtempSync(join(dir, 'rot-time-'));
  const file = join(sub, 'app.blog');
  const log = createLogger({ dest: file, rotate: { intervalMs: 20, keep: 2 } });
  for (let k = 0; k < 6; k++) {
    log.info('piece %d', k);
    log.flush();
    await new Promise((r) => setTimeout(r, 40)); // longer than intervalMs: the next write rotates
  }
  log.close();
  const pieces = readdirSync(sub)
    .filter((n) => n !== 'app.blog')
    .sort();
  assert.equal(log.stats().rotations, 5);
  assert.equal(pieces.length, 2, 'keep: 2');
  const msgs = [...pieces.map((p) => join(sub, p)), file].map((p) => decodeFile(p).events.map((e) => e.msg));
  assert.deepEqual(msgs, [['piece 3'], ['piece 4'], ['piece 5']]);
});
