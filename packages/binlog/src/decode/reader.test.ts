import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { scanFrame, sealFrame } from '../codec/index.js';
import { createLogger } from '../runtime/index.js';
import { DecodeError } from './errors.js';
import { decodeFile } from './log-file.js';
import { type DecodedEvent, LogReader } from './reader.js';

const dir = mkdtempSync(join(tmpdir(), 'binlog-reader-'));
const TOTAL = 3000;
const src = join(dir, 'src.blog');
{
  const log = createLogger({ dest: src, bufferSize: 4096 });
  for (let i = 0; i < TOTAL; i++) log.info('rec %d %s', i, 'abcdefgh');
  log.close();
}
const good = readFileSync(src);

function frames(b: Buffer): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (let p = 0; p < b.length; ) {
    const s = scanFrame(b, p);
    assert.equal(s.kind, 'frame');
    if (s.kind !== 'frame') break;
    out.push({ start: s.start, end: s.end });
    p = s.end;
  }
  return out;
}

function decode(b: Buffer): { seq: number[]; events: unknown[]; stats: LogReader['stats'] } {
  const f = join(dir, `case-${Math.random()}.blog`);
  writeFileSync(f, b);
  const { events, stats } = decodeFile(f);
  return { seq: events.map((e) => e.args[0] as number), events: events.map((e) => e.args[0]), stats };
}

function increasing(seq: number[]): void {
  for (let i = 1; i < seq.length; i++) assert.ok(seq[i]! > seq[i - 1]!);
}

test('the intact file decodes completely, also when fed byte ranges of any size', () => {
  const all = decode(good);
  assert.equal(all.seq.length, TOTAL);
  assert.equal(all.stats.skippedBytes, 0);
  const r = new LogReader({});
  const seen: DecodedEvent[] = [];
  for (let p = 0; p < good.length; p += 777) r.feed(good.subarray(p, p + 777), (e) => seen.push(e));
  r.end();
  assert.equal(seen.length, TOTAL);
  assert.equal(r.stats.skippedBytes, 0);
});

test('a flipped byte: the damaged frame is reported, its records are salvaged, the others decode', () => {
  const fr = frames(good);
  assert.ok(fr.length > 5);
  const b = Buffer.from(good);
  const mid = fr[3]!;
  b[(mid.start + mid.end) >> 1] ^= 0x5a;
  const { seq, stats } = decode(b);
  assert.equal(stats.damagedFrames, 1);
  assert.equal(stats.skippedBytes, stats.damagedBytes);
  assert.ok(stats.skippedBytes < 64, `skipped ${stats.skippedBytes} bytes`);
  // the record holding the byte is dropped, or kept with the changed value when it still decodes
  assert.ok(seq.length >= TOTAL - 1, `decoded ${seq.length} of ${TOTAL}`);
  assert.ok(stats.salvagedRecords > 100);
});

test('4 overwritten bytes inside a frame lose only the records they touch (resync inside the frame)', () => {
  const fr = frames(good);
  let damagedRuns = 0;
  for (let k = 2, n = 0; k < fr.length - 1; k++)
    for (let j = 1; j <= 4; j++, n++) {
      const { start, end } = fr[k]!;
      // four places per frame, shifted so that every byte position of a record is hit somewhere
      const at = start + Math.floor(((end - start) * j) / 5) + (n % 17);
      const b = Buffer.from(good);
      b.writeUInt32BE(0xdeadbeef, at);
      const { events, stats } = decode(b);
      const seq = events as number[];
      const missing: number[] = [];
      for (let i = 0, j = 0; i < TOTAL; i++) {
        if (seq[j] === i) j++;
        else missing.push(i);
      }
      // every record kept is intact and in order; at most the two records the 4 bytes span are missing
      assert.equal(seq.length + missing.length, TOTAL, `frame ${k}: records out of order or invented`);
      assert.ok(missing.length <= 2, `frame ${k}: lost ${missing.join(',')}`);
      if (missing.length === 2) assert.equal(missing[1]! - missing[0]!, 1);
      assert.equal(stats.damagedFrames, 1);
      assert.ok(stats.damagedBytes > 0 && stats.damagedBytes < 64, `frame ${k}: ${stats.damagedBytes} bytes`);
      damagedRuns++;
    }
  assert.ok(damagedRuns > 20);
});

test('a damaged frame salvages the same records when the input comes in pieces', () => {
  const fr = frames(good);
  const b = Buffer.from(good);
  b.writeUInt32BE(0xdeadbeef, (fr[4]!.start + fr[4]!.end) >> 1);
  const whole = decode(b);
  for (const piece of [777, 4096, 10000]) {
    const r = new LogReader({});
    const seen: number[] = [];
    for (let p = 0; p < b.length; p += piece)
      r.feed(b.subarray(p, p + piece), (e) => seen.push(e.args[0] as number));
    r.end();
    assert.deepEqual(seen, whole.seq, `pieces of ${piece}`);
    assert.equal(r.stats.damagedBytes, whole.stats.damagedBytes);
    assert.equal(r.stats.salvagedRecords, whole.stats.salvagedRecords);
  }
  assert.ok(whole.seq.length >= TOTAL - 2);
});

test('truncation: a torn last frame is reported, the rest decodes', () => {
  const fr = frames(good);
  const last = fr[fr.length - 1]!;
  const b = good.subarray(0, last.end - 10);
  const { seq, stats } = decode(b);
  assert.equal(stats.skippedBytes, last.end - 10 - last.start);
  assert.deepEqual(
    seq,
    Array.from({ length: seq.length }, (_, i) => i),
  );
});

test('garbage inserted between and inside frames is skipped; decoding resynchronises', () => {
  const fr = frames(good);
  const junk = Buffer.from('garbage \xf5{\x10l more junk that is not a frame', 'latin1');
  const at1 = fr[2]!.end; // between frames
  const at2 = (fr[5]!.start + fr[5]!.end) >> 1; // inside a frame
  const b = Buffer.concat([good.subarray(0, at1), junk, good.subarray(at1, at2), junk, good.subarray(at2)]);
  const { seq, stats } = decode(b);
  assert.equal(stats.skippedBytes, junk.length + (fr[5]!.end - fr[5]!.start) + junk.length);
  increasing(seq);
  assert.ok(seq.length > TOTAL - 1000);
});

test('not a binlog, or empty', () => {
  const f = join(dir, 'text.txt');
  writeFileSync(f, 'hello, this is text\n'.repeat(100));
  assert.throws(
    () => decodeFile(f),
    (e: unknown) => e instanceof DecodeError && e.code === 'NOT_BINLOG',
  );
  const empty = join(dir, 'empty.blog');
  writeFileSync(empty, '');
  assert.equal(decodeFile(empty).events.length, 0);
  assert.throws(
    () => decodeFile(join(dir, 'missing.blog')),
    (e: unknown) => e instanceof DecodeError && e.code === 'NO_FILE',
  );
});

test('concatenated logs: each header starts a new segment with its own ids', () => {
  const a = join(dir, 'a.blog');
  const l = createLogger({ dest: a });
  l.info('second file %s', 'x');
  l.close();
  const { events } = decodeFile(a);
  const joined = join(dir, 'joined.blog');
  writeFileSync(joined, Buffer.concat([good, readFileSync(a)]));
  const both = decodeFile(joined);
  assert.equal(both.events.length, TOTAL + 1);
  assert.equal(both.events[TOTAL]!.msg, events[0]!.msg);
  assert.equal(both.stats.headers, 2);
});

test('4 overwritten bytes in a 64 KiB write lose at most the records they touch', () => {
  const f = join(dir, 'big-buffer.blog');
  const log = createLogger({ dest: f, bufferSize: 65536 });
  const N = 50000;
  for (let i = 0; i < N; i++) log.info('rec %d %s', i, 'abcdefgh');
  log.close();
  const b = readFileSync(f);
  const at = b.length >> 1;
  b.writeUInt32LE(0xdeadbeef, at);
  const { seq, stats } = decode(b);
  assert.ok(stats.skippedBytes <= 64, `skipped ${stats.skippedBytes} bytes`);
  assert.equal(stats.skippedRegions, 1);
  assert.ok(N - seq.length <= 2, `lost ${N - seq.length} records (a whole 64 KiB frame held ~3,600)`);
  increasing(seq);
});

test('a damaged header re-dates nothing: every frame carries the clock anchor', () => {
  const f = join(dir, 'bad-header.blog');
  const t0 = Date.now();
  const log = createLogger({ dest: f });
  for (let i = 0; i < 100; i++) log.info('rec %d %s', i, 'x');
  log.close();
  const b = readFileSync(f);
  b[20] ^= 0xff; // inside the header frame
  const { events, stats } = decodeFile(join(dir, 'bad-header.blog'));
  assert.equal(events.length, 100, 'intact file first');
  writeFileSync(f, b);
  const after = decodeFile(f);
  assert.ok(stats.skippedBytes === 0 && after.stats.skippedBytes > 0);
  assert.equal(after.events.length, 100);
  for (const e of after.events)
    assert.ok(Math.abs(e.time - t0) < 60000, `dated ${new Date(e.time).toISOString()}`);
});

test('version-1 files still decode', () => {
  // a version-1 log: header (version 1, origin 1e12), then a 'B' block with a fmtdef and one event
  const head = Buffer.from([0x48, ...Buffer.from('BINLOG'), 1, ...new Uint8Array(16), 7, 0]);
  head.writeDoubleLE(1e12, 8);
  head.writeDoubleLE(1e12, 16);
  const fmt = Buffer.from('v1 %d');
  const block = Buffer.from([
    0x42,
    0,
    0x40,
    0x80,
    0x80,
    0x40,
    fmt.length,
    ...fmt,
    0x23,
    0x80,
    0x80,
    0x40,
    5,
    0x0a,
  ]);
  const frame = (p: Buffer): Buffer => {
    const out = Buffer.alloc(12 + p.length);
    p.copy(out, 12);
    sealFrame(out, 0, p.length);
    return out;
  };
  const { events, stats } = decode(Buffer.concat([frame(head), frame(block)]));
  assert.equal(stats.skippedBytes, 0);
  assert.deepEqual(events, [5]);
});
