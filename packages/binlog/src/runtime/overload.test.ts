import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeFile } from '../decode/index.js';
import { createLogger } from './logger.js';

const dir = mkdtempSync(join(tmpdir(), 'binlog-overload-'));

test("'drop': a burst larger than two buffers drops, counts, and records the count", async () => {
  const f = join(dir, 'drop.blog');
  const log = createLogger({ dest: f, onOverload: 'drop', bufferSize: 4096 });
  // A synchronous burst: the asynchronous write of the first full buffer cannot complete (its callback
  // needs the event loop) while the second fills, so the rest is dropped.
  for (let i = 0; i < 20000; i++) log.info('burst %d', i);
  const dropped = log.dropped;
  assert.ok(dropped > 0, 'some records were dropped');
  await new Promise((r) => setTimeout(r, 200));
  for (let i = 0; i < 10; i++) log.info('after %d', i);
  log.close();
  const { events, stats } = decodeFile(f);
  assert.equal(stats.drops, dropped);
  assert.equal(stats.skippedBytes, 0);
  assert.equal(events.length, 20000 - dropped + 10);
  // what was kept is in order, without gaps before the first drop
  const kept = events.filter((e) => e.msg.startsWith('burst')).map((e) => e.args[0] as number);
  kept.forEach((v, i) => {
    assert.equal(v, i);
  });
  assert.deepEqual(
    events.slice(-10).map((e) => e.msg),
    Array.from({ length: 10 }, (_, i) => `after ${i}`),
  );
});

test("'block': the same burst keeps everything", () => {
  const f = join(dir, 'block.blog');
  const log = createLogger({ dest: f, bufferSize: 4096 });
  for (let i = 0; i < 20000; i++) log.info('burst %d', i);
  assert.equal(log.dropped, 0);
  log.close();
  const { events, stats } = decodeFile(f);
  assert.equal(events.length, 20000);
  assert.equal(stats.drops, 0);
});

test("'drop': a flush while a write is in flight rewrites it in place (nothing lost, nothing doubled)", () => {
  const f = join(dir, 'inflight.blog');
  const log = createLogger({ dest: f, onOverload: 'drop', bufferSize: 4096 });
  for (let i = 0; i < 700; i++) log.info('n %d', i); // about 1.3 buffers: one write in flight
  assert.equal(log.dropped, 0);
  log.close();
  const { events, stats } = decodeFile(f);
  assert.equal(stats.skippedBytes, 0);
  assert.deepEqual(
    events.map((e) => e.args[0]),
    Array.from({ length: 700 }, (_, i) => i),
  );
});
