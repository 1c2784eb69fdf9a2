import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PAGE_SIZE } from '../sys/constants.js';
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
