import assert from 'node:assert/strict';
import {
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AlignedBuffer } from '../sys/buffer.js';
import { PAGE_SIZE } from '../sys/constants.js';
import { requireOrSkip } from '../testing/index.js';
import { PE } from './magics.js';
import { decodePagemapImage } from './pagemap.js';
import { PagemapReader } from './pagemap-reader.js';
import { PagemapWriter } from './pagemap-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'ckpt-pmw-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('many entries (past the staging buffer) come back in order with their data offsets', () => {
  const pagemapPath = join(dir, 'pagemap-9.img');
  const pagesPath = join(dir, 'pages-3.img');
  const w = new PagemapWriter({ pagemapPath, pagesPath, pagesId: 3 });
  const N = 10_000;
  const page = Buffer.alloc(PAGE_SIZE);
  for (let i = 0; i < N; i++) {
    const vaddr = 0x10000000 + i * 2 * PAGE_SIZE; // a one-page gap between ranges: nothing merges
    if (i % 3 === 0) w.addHole(vaddr, 1);
    else {
      page.writeUInt32LE(i, 0);
      w.addPages(vaddr, 1, page, i % 3 === 1 ? PE.PRESENT : PE.LAZY | PE.PRESENT);
    }
  }
  w.finish();
  w.finish(); // twice is fine
  assert.equal(w.finished, true);
  const img = decodePagemapImage(readFileSync(pagemapPath));
  assert.equal(img.head.pages_id, 3);
  assert.equal(img.entries.length, N);
  using r = PagemapReader.open(dir, 'pagemap-9.img');
  assert.equal(r.sorted, true);
  assert.equal(r.pagesPath, pagesPath);
  assert.equal(statSync(pagesPath).size, r.presentPages * PAGE_SIZE);
  let expectOffset = 0;
  for (const [i, range] of r.ranges.entries()) {
    assert.equal(range.vaddr, 0x10000000 + i * 2 * PAGE_SIZE);
    if (i % 3 === 0) assert.equal(range.offset, undefined);
    else {
      assert.equal(range.offset, expectOffset);
      expectOffset += PAGE_SIZE;
    }
  }
  assert.equal(r.readPage(0x10000000 + 4 * 2 * PAGE_SIZE)!.readUInt32LE(0), 4);
  assert.equal(r.readPage(0x10000000 + 9998 * 2 * PAGE_SIZE)!.readUInt32LE(0), 9998);
  assert.equal(r.readPage(0x10000000 + PAGE_SIZE), undefined); // in a gap
  assert.equal(r.nextStart(0x10000000 + PAGE_SIZE), 0x10000000 + 2 * PAGE_SIZE);
});

test('a pages file shorter than its pagemap says is TRUNCATED on read, a missing one MISSING_IMAGE', () => {
  const w = new PagemapWriter({
    pagemapPath: join(dir, 'pagemap-5.img'),
    pagesPath: join(dir, 'pages-8.img'),
    pagesId: 8,
  });
  w.addPages(0x1000, 2, Buffer.alloc(2 * PAGE_SIZE, 1));
  w.finish();
  truncateSync(join(dir, 'pages-8.img'), PAGE_SIZE);
  using r = PagemapReader.open(dir, 'pagemap-5.img');
  assert.equal(r.readPage(0x1000)![0], 1);
  assert.throws(() => r.readPage(0x2000), { name: 'ImageError', code: 'TRUNCATED' });
  rmSync(join(dir, 'pages-8.img'));
  using r2 = PagemapReader.open(dir, 'pagemap-5.img');
  assert.throws(() => r2.readPage(0x1000), { name: 'ImageError', code: 'MISSING_IMAGE' });
});

test('disposing an unfinished writer deletes its files; a finished one keeps them', () => {
  const a = { pagemapPath: join(dir, 'pagemap-1.img'), pagesPath: join(dir, 'pages-1.img'), pagesId: 1 };
  {
    using w = new PagemapWriter(a);
    w.addHole(0, 1);
  }
  assert.throws(() => statSync(a.pagemapPath));
  assert.throws(() => statSync(a.pagesPath));
  {
    using w = new PagemapWriter(a);
    w.addHole(0, 1);
    w.finish();
  }
  assert.equal(decodePagemapImage(readFileSync(a.pagemapPath)).entries.length, 1);
});

/** A buffer whose page i starts with the word i + tag. */
function pagesBuffer(n: number, tag: number): AlignedBuffer {
  const b = new AlignedBuffer(n * PAGE_SIZE);
  for (let i = 0; i < n; i++) b.bytes.writeUInt32LE(i + tag, i * PAGE_SIZE);
  return b;
}

test('queued pieces: contiguous views merge into one write per flush, flushes may overlap', async () => {
  const pagemapPath = join(dir, 'pagemap-21.img');
  const pagesPath = join(dir, 'pages-21.img');
  const w = new PagemapWriter({ pagemapPath, pagesPath, pagesId: 21 });
  const a = pagesBuffer(64, 0);
  const b = pagesBuffer(64, 1000);
  // sparse: every other page of the address space, packed one after another in the buffer
  for (let i = 0; i < 64; i++)
    w.queuePages(0x10000000 + i * 2 * PAGE_SIZE, 1, a.bytes.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
  assert.equal(w.queuedViews, 1, 'one iovec for 64 contiguous pieces');
  assert.equal(w.pagesOffset, 64 * PAGE_SIZE);
  const first = w.flush();
  assert.equal(w.queuedViews, 0);
  w.queuePages(0x20000000, 32, b.bytes.subarray(0, 32 * PAGE_SIZE));
  w.queuePages(0x20000000 + 40 * PAGE_SIZE, 8, a.bytes.subarray(0, 8 * PAGE_SIZE)); // another buffer
  w.queuePages(0x20000000 + 60 * PAGE_SIZE, 32, b.bytes.subarray(32 * PAGE_SIZE));
  assert.equal(w.queuedViews, 3);
  const second = w.flush(); // before the first settled
  assert.throws(() => w.finish(), { code: 'BAD_STATE' }, 'finish() during a flush');
  await Promise.all([first, second]);
  assert.equal(w.settled(), undefined);
  w.finish();
  using r = PagemapReader.open(dir, 'pagemap-21.img');
  assert.equal(statSync(pagesPath).size, (64 + 72) * PAGE_SIZE);
  assert.equal(r.readPage(0x10000000 + 10 * 2 * PAGE_SIZE)!.readUInt32LE(0), 10);
  assert.equal(r.readPage(0x10000000 + PAGE_SIZE), undefined);
  assert.equal(r.readPage(0x20000000 + 31 * PAGE_SIZE)!.readUInt32LE(0), 1031);
  assert.equal(r.readPage(0x20000000 + 47 * PAGE_SIZE)!.readUInt32LE(0), 7);
  assert.equal(r.readPage(0x20000000 + 91 * PAGE_SIZE)!.readUInt32LE(0), 1063);
});

test('finish() writes what is still queued; addPages() after queued pieces keeps file order', () => {
  const pagemapPath = join(dir, 'pagemap-22.img');
  const pagesPath = join(dir, 'pages-22.img');
  const w = new PagemapWriter({ pagemapPath, pagesPath, pagesId: 22 });
  const a = pagesBuffer(4, 50);
  w.queuePages(0x1000, 2, a.bytes.subarray(0, 2 * PAGE_SIZE));
  w.addPages(0x3000, 1, a.bytes.subarray(3 * PAGE_SIZE)); // written now, after the queued two
  w.queuePages(0x4000, 1, a.bytes.subarray(2 * PAGE_SIZE, 3 * PAGE_SIZE));
  w.finish();
  using r = PagemapReader.open(dir, 'pagemap-22.img');
  assert.deepEqual(
    [0x1000, 0x2000, 0x3000, 0x4000].map((va) => r.readPage(va)!.readUInt32LE(0)),
    [50, 51, 53, 52],
  );
});

test('O_DIRECT: aligned pieces go direct; an unaligned one turns the rest buffered, data intact', async (t) => {
  const pagemapPath = join(dir, 'pagemap-23.img');
  const pagesPath = join(dir, 'pages-23.img');
  const w = new PagemapWriter({ pagemapPath, pagesPath, pagesId: 23 });
  if (!w.useDirectIo()) {
    w.discard();
    requireOrSkip(t, 'o-direct', `${dir}: the file system refuses O_DIRECT`);
    return;
  }
  assert.equal(w.directIo, true);
  const a = pagesBuffer(16, 100);
  w.queuePages(0x100000, 16, a.bytes);
  await w.flush();
  w.addPages(0x200000, 1, a.bytes.subarray(PAGE_SIZE, 2 * PAGE_SIZE));
  const odd = new AlignedBuffer(2 * PAGE_SIZE);
  const unaligned = odd.bytes.subarray(16, 16 + PAGE_SIZE);
  unaligned.fill(7);
  w.queuePages(0x300000, 1, unaligned);
  assert.equal(w.directIo, false);
  await w.flush();
  w.finish();
  assert.throws(() => w.useDirectIo(), { code: 'BAD_STATE' });
  using r = PagemapReader.open(dir, 'pagemap-23.img');
  assert.equal(r.readPage(0x100000 + 15 * PAGE_SIZE)!.readUInt32LE(0), 115);
  assert.equal(r.readPage(0x200000)!.readUInt32LE(0), 101);
  assert.deepEqual(r.readPage(0x300000), Buffer.alloc(PAGE_SIZE, 7));
});

test('discard() with a flush in flight deletes the files and closes the fd once the write settled', async () => {
  const a2 = { pagemapPath: join(dir, 'pagemap-24.img'), pagesPath: join(dir, 'pages-24.img'), pagesId: 24 };
  const w = new PagemapWriter(a2);
  const a = pagesBuffer(256, 0);
  w.queuePages(0x100000, 256, a.bytes);
  const p = w.flush();
  w.discard();
  await p;
  assert.throws(() => statSync(a2.pagesPath));
  assert.throws(() => w.queuePages(0x800000, 1, a.bytes.subarray(0, PAGE_SIZE)), { code: 'BAD_STATE' });
});

test('remember: a reader of the file (renamed since) takes the entries the writer kept; a file rewritten since is decoded', () => {
  const tmp = join(dir, '.pagemap-11.img.tmp');
  const pagesPath = join(dir, 'pages-5.img');
  const w = new PagemapWriter({ pagemapPath: tmp, pagesPath, pagesId: 5, remember: true });
  const page = Buffer.alloc(PAGE_SIZE, 1);
  w.addPages(0x20000000, 1, page);
  w.addHole(0x20001000, 2);
  w.addHole(0x20003000, 1, PE.LAZY);
  w.addPages(0x20004000, 1, page);
  w.finish();
  renameSync(tmp, join(dir, 'pagemap-11.img'));
  const decoded = PagemapReader.fromBytes(readFileSync(join(dir, 'pagemap-11.img')), dir).ranges;
  using r = PagemapReader.open(dir, 'pagemap-11.img');
  using r2 = PagemapReader.open(dir, 'pagemap-11.img');
  assert.equal(r.ranges, r2.ranges, 'the kept entries, not decoded again (one array for both readers)');
  assert.deepEqual(r.ranges, decoded, 'what a decode gives');
  assert.equal(r.pagesPath, pagesPath);
  // the same size, written again: decoded, not recalled
  const bytes = readFileSync(join(dir, 'pagemap-11.img'));
  writeFileSync(join(dir, 'pagemap-11.img'), bytes);
  using again = PagemapReader.open(dir, 'pagemap-11.img');
  assert.notEqual(again.ranges, r.ranges, 'decoded: the file is not the one remembered');
  assert.deepEqual(again.ranges, decoded);
});
