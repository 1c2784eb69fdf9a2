// Overload policies: 'block' waits; 'drop' drops only while the destination refuses more (a full
// non-blocking pipe or socket), counts what it drops, and records the count in the log.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeFile } from '../decode/index.js';
import { createLogger } from './logger.js';

const dir = mkdtempSync(join(tmpdir(), 'binlog-overload-'));

test("'drop' to a file: a synchronous burst drops nothing (a file always takes the write)", () => {
  const f = join(dir, 'drop-file.blog');
  const log = createLogger({ dest: f, onOverload: 'drop', bufferSize: 4096 });
  for (let i = 0; i < 200000; i++) log.info('burst %d', i);
  assert.equal(log.dropped, 0);
  log.close();
  const { events, stats } = decodeFile(f);
  assert.equal(events.length, 200000);
  assert.equal(stats.drops, 0);
  assert.equal(stats.skippedBytes, 0);
});

test("'drop' to a socket nobody reads yet: drops while it is full, counts, and the log says so", async () => {
  const f = join(dir, 'drop-pipe.blog');
  // the child reads its stdin only after a while: until then the socket fills and refuses writes
  const child = spawn('sh', ['-c', `sleep 0.5; cat > '${f}'`], { stdio: ['pipe', 'ignore', 'inherit'] });
  const fd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd;
  const log = createLogger({ dest: fd, onOverload: 'drop', bufferSize: 4096 });
  const N = 300000;
  for (let i = 0; i < N; i++) log.info('burst %d', i);
  const dropped = log.dropped;
  assert.ok(dropped > 0, 'a full socket makes the burst drop');
  assert.ok(dropped < N, 'what the socket took is kept');
  assert.equal(log.stats().dropped, dropped);
  log.close(); // waits for the reader: the pending rest and the final count are written
  child.stdin.end();
  await new Promise((r) => child.on('exit', r));
  const { events, stats } = decodeFile(f);
  assert.equal(stats.drops, dropped);
  assert.equal(stats.skippedBytes, 0);
  assert.equal(events.length, N - dropped);
  const kept = events.map((e) => e.args[0] as number);
  for (let i = 1; i < kept.length; i++) assert.ok(kept[i]! > kept[i - 1]!, 'kept records stay in order');
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
