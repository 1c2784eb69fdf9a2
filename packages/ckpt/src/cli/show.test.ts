import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ImageDir, PE, PRE_DUMP_MODE, preDumpInventory } from '../images/index.js';
import { PAGE_SIZE } from '../sys/constants.js';
import { renderShow } from './show.js';

const root = mkdtempSync(join(tmpdir(), 'ckpt-show-'));
after(() => rmSync(root, { recursive: true, force: true }));

const PID = 77;
const BASE = 0x7f0000000000;
const stats = {
  freezing_time: 1,
  frozen_time: 2,
  memdump_time: 3,
  memwrite_time: 4,
  pages_scanned: 4,
  pages_skipped_parent: 0,
  pages_written: 4,
  pages_lazy: 0,
};

{
  using d = ImageDir.create(join(root, 'pre1'));
  d.pagemapWriter(PID).addPages(BASE, 4, Buffer.alloc(4 * PAGE_SIZE, 1));
  d.writeStats(stats);
  d.writeIrmapCache();
  d.setInventory(preDumpInventory(PRE_DUMP_MODE.READ, 1_000_000));
  d.commit();
}
{
  using d = ImageDir.create(join(root, 'pre2'), { parent: '../pre1' });
  const w = d.pagemapWriter(PID);
  w.addPages(BASE, 1, Buffer.alloc(PAGE_SIZE, 2));
  w.addHole(BASE + PAGE_SIZE, 4); // the last page is in no image set
  w.addHole(BASE + 5 * PAGE_SIZE, 1, PE.LAZY);
  d.writeStats({ ...stats, pages_written: 1, pages_skipped_parent: 3 });
  d.writeIrmapCache();
  d.setInventory(preDumpInventory(PRE_DUMP_MODE.SPLICE, 2_000_000));
  d.commit();
}
const pre2 = join(root, 'pre2');

test('a file shows its header words and every entry', () => {
  const text = renderShow(join(pre2, 'pagemap-77.img'));
  assert.match(text, /^pagemap-77\.img: IMG_COMMON \(0x54564319\) \+ PAGEMAP \(0x56084025\), 4 entries/);
  assert.match(text, /\[0\] pagemap_head pages_id=1\n/);
  assert.match(
    text,
    /\[1\] pagemap_entry vaddr=0x7f0000000000 compat_nr_pages=1 flags=PE_PRESENT nr_pages=1\n/,
  );
  assert.match(
    text,
    /\[2\] pagemap_entry vaddr=0x7f0000001000 compat_nr_pages=4 flags=PE_PARENT nr_pages=4\n/,
  );
  assert.match(
    renderShow(join(pre2, 'inventory.img')),
    /INVENTORY \(0x58313116\).*\n.*pre_dump_mode=1\(splice\)/,
  );
  assert.match(
    renderShow(join(pre2, 'stats-dump')),
    /IMG_SERVICE \(0x55105940\) \+ STATS \(0x57093306\)[\s\S]*pages_skipped_parent=3/,
  );
  assert.equal(renderShow(join(pre2, 'pages-1.img')), 'pages-1.img: raw page data, 1 pages (4096 bytes)\n');
});

test('--pages says where each range lives: here, which parent, absent or lazy', () => {
  const report = JSON.parse(renderShow(join(pre2, 'pagemap-77.img'), { json: true, pages: true }));
  assert.deepEqual(
    report.ranges.map(
      (r: {
        vaddr: number;
        nrPages: number;
        where: string;
        depth?: number;
        file?: string;
        offset?: number;
      }) => [r.vaddr - BASE, r.nrPages, r.where, r.depth, r.file, r.offset],
    ),
    [
      [0, 1, 'here', undefined, 'pages-1.img', 0],
      [PAGE_SIZE, 3, 'parent', 1, join('..', 'pre1', 'pages-1.img'), PAGE_SIZE],
      [4 * PAGE_SIZE, 1, 'absent', undefined, undefined, undefined],
      [5 * PAGE_SIZE, 1, 'lazy', undefined, undefined, undefined],
    ],
  );
  const text = renderShow(pre2, { pages: true });
  assert.match(
    text,
    /0x7f0000001000-0x7f0000004000 +3 pages {2}PE_PARENT +parent\[1\] \.\.\/pre1\/pages-1\.img @ 0x1000/,
  );
});

test('a directory shows completeness, the parent link and a line per image', () => {
  const text = renderShow(pre2);
  assert.match(text, /: complete\n/);
  assert.match(text, /parent -> \.\.\/pre1 \(/);
  assert.match(text, /pagemap-77\.img +PAGEMAP pages_id=1, 3 ranges: 1 pages here, 4 in parent, 1 lazy/);
  assert.match(text, /irmap-cache +IRMAP_CACHE, 0 entries +\(8 bytes\)/);
  const json = JSON.parse(renderShow(pre2, { json: true }));
  assert.equal(json.complete, true);
  assert.equal(json.parent.link, '../pre1');
  assert.deepEqual(
    json.files.map((f: { file: string }) => f.file),
    ['inventory.img', 'irmap-cache', 'pagemap-77.img', 'pages-1.img', 'parent', 'stats-dump'],
  );
});

test('aborted directories and damaged images are reported; bad files raise ImageError', () => {
  const aborted = join(root, 'aborted');
  const d = ImageDir.create(aborted, { parent: '../pre1' });
  d.abort('target exited');
  writeFileSync(join(aborted, 'stats-dump'), Buffer.from('4059105506330957ff000000', 'hex'));
  const text = renderShow(aborted);
  assert.match(text, /INCOMPLETE \(target exited\)/);
  assert.match(text, /stats-dump +TRUNCATED: /);
  assert.throws(() => renderShow(join(aborted, 'stats-dump')), { name: 'ImageError', code: 'TRUNCATED' });
  assert.throws(() => renderShow(join(root, 'nope')), { name: 'ImageError', code: 'MISSING_IMAGE' });
  writeFileSync(join(root, 'junk.img'), 'hello world');
  assert.throws(() => renderShow(join(root, 'junk.img')), { code: 'BAD_MAGIC' });
});

test('a directory lists our binlog log and other non-image files without calling them damaged', () => {
  const dir = join(root, 'with-logs');
  {
    using d = ImageDir.create(dir);
    d.pagemapWriter(PID).addPages(BASE, 1, Buffer.alloc(PAGE_SIZE, 3));
    d.writeStats(stats);
    d.setInventory(preDumpInventory(PRE_DUMP_MODE.READ, 1_000_000));
    d.commit();
  }
  // a binlog file starts with its own header, not an image magic
  writeFileSync(join(dir, 'pre-dump.log.bin'), Buffer.from('0142494e4c4f470000000000', 'hex'));
  writeFileSync(join(dir, 'ckpt-track.json'), '{"generation":1}\n');
  writeFileSync(join(dir, 'x'), ''); // empty: TRUNCATED as an image, still just "not an image"
  writeFileSync(join(dir, 'core-9.img'), 'hello world'); // named like an image: a damaged image
  const text = renderShow(dir);
  assert.match(
    text,
    /pre-dump\.log\.bin +binlog log \(decode with npx binlog decode pre-dump\.log\.bin\) +\(12 bytes\)/,
  );
  assert.match(text, /ckpt-track\.json +not an image +\(17 bytes\)/);
  assert.match(text, /\n {2}x +not an image +\(0 bytes\)/);
  assert.match(text, /core-9\.img +BAD_MAGIC: /);
  assert.match(text, /: complete\n/);
  const json = JSON.parse(renderShow(dir, { json: true }));
  const log = json.files.find((f: { file: string }) => f.file === 'pre-dump.log.bin');
  assert.equal(log.error, undefined);
  assert.match(log.note, /^binlog log/);
  assert.match(renderShow(join(dir, 'pre-dump.log.bin')), /^pre-dump\.log\.bin: binlog log \(decode with/);
});
