import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImageCursor } from './cursor.js';
import { decodeHeader, decodeImage, decodeImageOf, encodeHeader, encodeImage } from './image-file.js';
import {
  decodeInventoryImage,
  dumpUptimeNow,
  encodeInventoryImage,
  isPidReused,
  preDumpInventory,
} from './inventory.js';
import { decodeIrmapCache, encodeIrmapCache } from './irmap-cache.js';
import { classifyImageName, MAGIC, magicName, PE, PRE_DUMP_MODE } from './magics.js';
import { decodePagemapImage, encodePagemapImage, pagemapEntry } from './pagemap.js';
import { decodeStatsImage, encodeStatsImage } from './stats.js';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');

test('header words match the bytes CRIU writes', () => {
  assert.deepEqual(encodeHeader(MAGIC.INVENTORY), hex('16 31 31 58'));
  assert.deepEqual(encodeHeader(MAGIC.PAGEMAP), hex('19 43 56 54 25 40 08 56'));
  assert.deepEqual(encodeHeader(MAGIC.STATS), hex('40 59 10 55 06 33 09 57'));
  assert.deepEqual(encodeHeader(MAGIC.PSTREE), hex('19 43 56 54 30 30 27 50'));
  assert.deepEqual(encodeIrmapCache(), hex('40 59 10 55 59 40 00 57'));
  assert.deepEqual(decodeHeader(new ImageCursor(hex('16 31 31 58'))), {
    kind: 'inventory',
    magic: MAGIC.INVENTORY,
    size: 4,
  });
  assert.equal(magicName(0x56084025), 'PAGEMAP');
});

test('pagemap image: the fact sheet prefix, and a round trip', () => {
  const img = { head: { pages_id: 1 }, entries: [pagemapEntry(0x555769ed2000, 1, PE.PRESENT)] };
  const bytes = encodePagemapImage(img);
  assert.deepEqual(bytes.subarray(0, 18), hex('19 43 56 54 25 40 08 56 02 00 00 00 08 01 0e 00 00 00'));
  assert.deepEqual(decodePagemapImage(bytes), img);
  // the exact bytes CRIU wrote (compat 0, nr_pages 1)
  const criu = hex(
    '19 43 56 54 25 40 08 56 02 00 00 00 08 01 0e 00 00 00 08 80 c0 b4 cf f6 aa 15 10 00 20 04 28 01',
  );
  assert.deepEqual(decodePagemapImage(criu).entries, [
    { vaddr: 0x555769ed2000, compat_nr_pages: 0, flags: 4, nr_pages: 1 },
  ]);
});

test('inventory, stats and irmap-cache images round trip', () => {
  const inv = preDumpInventory(PRE_DUMP_MODE.READ, 42_000_000);
  const ib = encodeInventoryImage(inv);
  assert.deepEqual(ib.subarray(0, 4), hex('16 31 31 58'));
  assert.equal(ib.readUInt32LE(4), ib.length - 8);
  assert.deepEqual(decodeInventoryImage(ib), inv);
  const stats = {
    dump: {
      freezing_time: 1,
      frozen_time: 2,
      memdump_time: 3,
      memwrite_time: 4,
      pages_scanned: 5,
      pages_skipped_parent: 6,
      pages_written: 7,
      pages_lazy: 0,
    },
  };
  const sb = encodeStatsImage(stats);
  assert.deepEqual(sb.subarray(0, 8), hex('40 59 10 55 06 33 09 57'));
  assert.deepEqual(decodeStatsImage(sb), stats);
  assert.deepEqual(decodeIrmapCache(encodeIrmapCache()), []);
});

test('the reader rejects short input, bad magic, truncation and trailing bytes with codes', () => {
  const good = encodeImage(MAGIC.PAGEMAP, [Buffer.from([8, 1])]);
  assert.throws(() => decodeImage(hex('')), { name: 'ImageError', code: 'TRUNCATED' });
  assert.throws(() => decodeImage(hex('16 31 31')), { code: 'TRUNCATED' });
  assert.throws(() => decodeImage(hex('19 43 56 54')), { code: 'TRUNCATED' });
  assert.throws(() => decodeImage(hex('00 00 00 00 00 00 00 00')), { code: 'BAD_MAGIC' });
  assert.throws(() => decodeImage(hex('19 43 56 54 00 00 00 00')), { code: 'BAD_MAGIC' });
  // a service magic after the common word, and an ordinary one after the service word
  assert.throws(() => decodeImage(hex('19 43 56 54 06 33 09 57')), { code: 'BAD_MAGIC' });
  assert.throws(() => decodeImage(hex('40 59 10 55 25 40 08 56')), { code: 'BAD_MAGIC' });
  assert.throws(() => decodeImage(good.subarray(0, good.length - 1)), { code: 'TRUNCATED' });
  assert.throws(() => decodeImage(Buffer.concat([good, hex('01 02')])), { code: 'TRAILING_BYTES' });
  assert.throws(() => decodeImage(Buffer.concat([good, hex('05 00 00 00 01')])), { code: 'TRUNCATED' });
  assert.throws(() => decodeImageOf(good, MAGIC.STATS), { code: 'BAD_MAGIC' });
  assert.throws(() => decodeInventoryImage(good), { code: 'BAD_MAGIC' });
  const twoInventories = Buffer.concat([encodeInventoryImage({ img_version: 2 }), hex('02 00 00 00 08 02')]);
  assert.throws(() => decodeInventoryImage(twoInventories), { code: 'TRAILING_BYTES' });
  assert.throws(() => decodePagemapImage(encodeImage(MAGIC.PAGEMAP, [])), { code: 'CORRUPT_IMAGE' });
  const unaligned = encodePagemapImage({ head: { pages_id: 1 }, entries: [pagemapEntry(0x1001, 1, 4)] });
  assert.throws(() => decodePagemapImage(unaligned), { code: 'CORRUPT_IMAGE' });
  assert.deepEqual(decodeImage(good).entries, [Buffer.from([8, 1])]);
});

test('file names are classified', () => {
  assert.deepEqual(classifyImageName('pagemap-42.img'), { kind: 'pagemap', id: 42 });
  assert.deepEqual(classifyImageName('pagemap-shmem-7.img'), { kind: 'shmem-pagemap', id: 7 });
  assert.deepEqual(classifyImageName('pages-65537.img'), { kind: 'pages', id: 65537 });
  assert.deepEqual(classifyImageName('stats-dump'), { kind: 'stats' });
  assert.deepEqual(classifyImageName('core-1.img'), { kind: 'other' });
});

test('dump uptime and the pid-reuse rule', () => {
  assert.equal(dumpUptimeNow('12345.67 999.00\n'), 12_345_670_000);
  assert.ok(dumpUptimeNow() > 0);
  assert.equal(isPidReused(399, 4_000_000, 100), false);
  assert.equal(isPidReused(400, 4_000_000, 100), true);
});
