// Repeated long strings of fields (error stacks): written once per write, referred to after.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeFile } from '../decode/index.js';
import { createLogger } from './logger.js';
import { countLostRecords } from './lost-records.js';
import { MAX_ENTRIES, RepeatedStrings } from './repeated-strings.js';

const dir = mkdtempSync(join(tmpdir(), 'binlog-repeated-'));

/** An error whose stack has `depth` more frames (distinct stacks per depth). */
function failAt(depth: number): Error {
  return depth === 0 ? new Error('deep failure') : failAt(depth - 1);
}

test('use(): text the first time, a definition once it repeats, references in the same write, a definition again in the next', () => {
  const r = new RepeatedStrings();
  const s = 'x'.repeat(100);
  assert.equal(r.use(s), 0);
  assert.equal(r.use(s), -1);
  assert.equal(r.use(s), 1); // a second use in the same record refers to the definition before it
  r.commit();
  assert.equal(r.use(s), 1);
  r.commit();
  r.newWrite();
  assert.equal(r.use(s), -1);
  r.rollback(); // that record did not fit: its definition is not in the stream
  assert.equal(r.use(s), -1);
  r.commit();
  assert.equal(r.use(s), 1);
});

test('the table is bounded: past MAX_ENTRIES strings, new ones stay text', () => {
  const r = new RepeatedStrings();
  for (let i = 0; i < MAX_ENTRIES; i++) {
    const s = `${i}`.padEnd(80, '.');
    r.use(s);
    assert.ok(r.use(s) < 0);
  }
  const late = 'late'.padEnd(80, '.');
  assert.equal(r.use(late), 0);
  assert.equal(r.use(late), 0);
});

/** Log `n` errors (caught ones again, fresh ones thrown at one place) to `f`; the stacks in order. */
function logErrors(f: string, bufferSize: number, n: number): string[] {
  const log = createLogger({ dest: f, bufferSize });
  const caught = [failAt(1), failAt(5), failAt(9)];
  const want: string[] = [];
  for (let i = 0; i < n; i++) {
    const e = i % 4 === 3 ? failAt(5) : caught[i % 3]!;
    const pad = 'p'.repeat((i * 37) % 300); // records of varied sizes: definitions at frame ends
    if (i % 2) log.error({ err: e, pad }, 'failed %d', i);
    else log.error(e);
    want.push(e.stack!);
  }
  log.close();
  return want;
}

test('errors logged again: stacks decode whole through full frames and small writes, at a fraction of the bytes', () => {
  const n = 3000;
  for (const bufferSize of [4096, 65536]) {
    const f = join(dir, `errors-${bufferSize}.blog`);
    const want = logErrors(f, bufferSize, n);
    const { events, stats } = decodeFile(f);
    assert.equal(stats.skippedBytes, 0);
    assert.equal(events.length, n);
    events.forEach((ev, i) => {
      const err = (JSON.parse(ev.fields!) as { err: { stack: string; message: string } }).err;
      assert.equal(err.stack, want[i]);
      assert.equal(err.message, 'deep failure');
    });
    if (bufferSize === 65536) {
      // a 4 KiB write holds few records: each defines its stacks again; a 64 KiB one, once
      const stackBytes = want.reduce((t, s) => t + s.length, 0);
      assert.ok(statSync(f).size < stackBytes / 4, `${statSync(f).size} bytes for ${stackBytes} of stacks`);
    }
  }
});

test('every rotated piece decodes on its own (definitions are repeated in each write)', () => {
  const sub = join(dir, 'rot');
  mkdirSync(sub);
  const log = createLogger({ dest: join(sub, 'app.blog'), bufferSize: 4096, rotate: { size: 16384 } });
  const e = failAt(3);
  for (let i = 0; i < 2000; i++) log.error(e);
  log.close();
  const pieces = readdirSync(sub);
  assert.ok(pieces.length > 2, `${pieces.length} pieces`);
  let total = 0;
  for (const p of pieces) {
    const { events, stats } = decodeFile(join(sub, p));
    assert.equal(stats.skippedBytes, 0, p);
    for (const ev of events) assert.equal(JSON.parse(ev.fields!).err.stack, e.stack);
    total += events.length;
  }
  assert.equal(total, 2000);
});

test('lost records are counted across references (a failed write is read back whole)', () => {
  const f = join(dir, 'count.blog');
  const log = createLogger({ dest: f, bufferSize: 65536 });
  const e = failAt(2);
  for (let i = 0; i < 50; i++) log.error(e);
  log.close();
  const buf = readFileSync(f);
  // the file: one header frame then one write of frames; every record is counted as not written
  assert.equal(countLostRecords(buf, 0, buf.length, 0), 50);
});
