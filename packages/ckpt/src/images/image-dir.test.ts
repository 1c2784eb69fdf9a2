import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PAGE_SIZE } from '../sys/constants.js';
import { skipUnlessAvailable } from '../testing/index.js';
import { ImageDir } from './image-dir.js';
import { preDumpInventory } from './inventory.js';
import { PE, PRE_DUMP_MODE } from './magics.js';
import { PageChain, resolvePage } from './page-chain.js';
import { decodePagemapImage } from './pagemap.js';
import { PagemapReader } from './pagemap-reader.js';

const root = mkdtempSync(join(tmpdir(), 'ckpt-images-'));
after(() => rmSync(root, { recursive: true, force: true }));

const PID = 4242;
const BASE = 0x7f0000000000;
const va = (page: number) => BASE + page * PAGE_SIZE;

/** A page whose every byte says which iteration and page wrote it. */
function page(iteration: number, index: number, count = 1): Buffer {
  const b = Buffer.alloc(count * PAGE_SIZE);
  for (let i = 0; i < count; i++) b.fill(iteration * 16 + index + i, i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
  return b;
}

const stats = {
  freezing_time: 11,
  frozen_time: 22,
  memdump_time: 33,
  memwrite_time: 44,
  pages_scanned: 8,
  pages_skipped_parent: 0,
  pages_written: 8,
  pages_lazy: 0,
};

/**
 * pre1: pages 0-7 with data (one 4 MiB-buffer-like slice handed over in pieces).
 * pre2: pages 0-1 new data, 2-7 holes.
 * pre3: page 2 new data, page 5 new data (lazy-able), the rest holes; page 8 never dumped.
 */
function buildChain(base: string): string[] {
  const dirs = ['pre1', 'pre2', 'pre3'].map((n) => join(base, n));
  {
    using d = ImageDir.create(dirs[0]!);
    const w = d.pagemapWriter(PID);
    const big = page(1, 0, 8);
    w.addPages(va(0), 1, big.subarray(0, PAGE_SIZE));
    w.addPages(va(1), 5, big.subarray(PAGE_SIZE, 6 * PAGE_SIZE));
    w.addPages(va(6), 2, big.subarray(6 * PAGE_SIZE));
    d.writeStats(stats);
    d.writeIrmapCache();
    d.setInventory(preDumpInventory(PRE_DUMP_MODE.READ, 1_000_000));
    d.commit();
  }
  {
    using d = ImageDir.create(dirs[1]!, { parent: '../pre1' });
    const w = d.pagemapWriter(PID);
    w.addPages(va(0), 2, page(2, 0, 2));
    w.addHole(va(2), 6);
    d.writeStats({ ...stats, pages_written: 2, pages_skipped_parent: 6 });
    d.writeIrmapCache();
    d.setInventory(preDumpInventory(PRE_DUMP_MODE.READ, 2_000_000));
    d.commit();
  }
  {
    using d = ImageDir.create(dirs[2]!, { parent: '../pre2' });
    const w = d.pagemapWriter(PID);
    w.addHole(va(0), 2);
    w.addPages(va(2), 1, page(3, 2));
    w.addHole(va(3), 2);
    w.addPages(va(5), 1, page(3, 5), PE.LAZY | PE.PRESENT);
    w.addHole(va(6), 1);
    w.addHole(va(7), 1);
    d.writeStats({ ...stats, pages_written: 2, pages_skipped_parent: 6 });
    d.writeIrmapCache();
    d.setInventory(preDumpInventory(PRE_DUMP_MODE.SPLICE, 3_000_000));
    d.commit();
  }
  return dirs;
}

const [pre1, pre2, pre3] = buildChain(root) as [string, string, string];

test('a committed directory holds the images under their real names, parent link verbatim', () => {
  assert.deepEqual(readdirSync(pre1).sort(), [
    'inventory.img',
    'irmap-cache',
    'pagemap-4242.img',
    'pages-1.img',
    'stats-dump',
  ]);
  assert.deepEqual(readdirSync(pre3).sort(), [
    'inventory.img',
    'irmap-cache',
    'pagemap-4242.img',
    'pages-1.img',
    'parent',
    'stats-dump',
  ]);
  assert.equal(readlinkSync(join(pre3, 'parent')), '../pre2');
  assert.equal(statSync(join(pre1, 'pages-1.img')).size, 8 * PAGE_SIZE);
  assert.equal(statSync(join(pre3, 'pages-1.img')).size, 2 * PAGE_SIZE);
  assert.equal(statSync(join(pre1, 'irmap-cache')).size, 8);
});

test('adjacent ranges with the same flags are merged; holes and lazy pages keep their own entries', () => {
  const p1 = decodePagemapImage(readFileSync(join(pre1, 'pagemap-4242.img')));
  assert.deepEqual(p1.head, { pages_id: 1 });
  assert.deepEqual(p1.entries, [{ vaddr: va(0), compat_nr_pages: 8, flags: PE.PRESENT, nr_pages: 8 }]);
  const p3 = decodePagemapImage(readFileSync(join(pre3, 'pagemap-4242.img')));
  assert.deepEqual(
    p3.entries.map((e) => [e.vaddr, e.nr_pages, e.flags]),
    [
      [va(0), 2, PE.PARENT],
      [va(2), 1, PE.PRESENT],
      [va(3), 2, PE.PARENT],
      [va(5), 1, PE.LAZY | PE.PRESENT],
      [va(6), 2, PE.PARENT],
    ],
  );
});

test('ImageDir.open reads inventory, stats, pids, pagemap offsets and the parent', () => {
  const d = ImageDir.open(pre3);
  assert.equal(d.complete, true);
  assert.deepEqual(d.inventory(), {
    img_version: 0,
    dump_uptime: 3_000_000,
    pre_dump_mode: 1,
    plugins_entry: {},
  });
  assert.equal(d.stats()?.dump?.pages_skipped_parent, 6);
  assert.deepEqual(d.pids(), [PID]);
  assert.equal(d.parentLink(), '../pre2');
  assert.equal(d.parentDumpUptime(), 2_000_000);
  using pm = d.pagemap(PID);
  assert.equal(pm.pagesId, 1);
  assert.deepEqual(
    [...pm].map((r) => [r.vaddr, r.nrPages, r.offset]),
    [
      [va(0), 2, undefined],
      [va(2), 1, 0],
      [va(3), 2, undefined],
      [va(5), 1, PAGE_SIZE],
      [va(6), 2, undefined],
    ],
  );
  assert.deepEqual(pm.readPage(va(5) + 100), page(3, 5));
  assert.equal(pm.readPage(va(3)), undefined);
  assert.deepEqual(
    d.list().map((l) => [l.name, l.kind]),
    [
      ['inventory.img', 'inventory'],
      ['irmap-cache', 'irmap-cache'],
      ['pagemap-4242.img', 'pagemap'],
      ['pages-1.img', 'pages'],
      ['parent', 'parent-link'],
      ['stats-dump', 'stats'],
    ],
  );
});

test('resolvePage follows the parent chain to the right bytes', () => {
  const expect: [number, Buffer][] = [
    [0, page(2, 0)],
    [1, page(2, 1)],
    [2, page(3, 2)],
    [3, page(1, 3)],
    [4, page(1, 4)],
    [5, page(3, 5)],
    [6, page(1, 6)],
    [7, page(1, 7)],
  ];
  for (const [i, bytes] of expect) assert.deepEqual(resolvePage(pre3, PID, va(i) + 7), bytes, `page ${i}`);
  assert.equal(resolvePage(pre3, PID, va(8)), 'absent');
  assert.equal(resolvePage(pre3, PID, BASE - PAGE_SIZE), 'absent');
  assert.deepEqual(resolvePage(pre2, PID, va(2)), page(1, 2));
  using chain = new PageChain(ImageDir.open(pre3), PID);
  assert.deepEqual(
    chain.locate(va(0), 9).map((l) => [l.vaddr, l.nrPages, l.where === 'data' ? l.depth : 'absent']),
    [
      [va(0), 2, 1],
      [va(2), 1, 0],
      [va(3), 2, 2],
      [va(5), 1, 0],
      [va(6), 2, 2],
      [va(8), 1, 'absent'],
    ],
  );
});

test('a missing parent, a dangling link, a loop or a parent without the pagemap is an ImageError', () => {
  const base = join(root, 'broken');
  const [, , b3] = buildChain(base) as [string, string, string];
  rmSync(join(base, 'pre1'), { recursive: true });
  assert.deepEqual(resolvePage(b3, PID, va(0)), page(2, 0)); // still in pre2
  assert.throws(() => resolvePage(b3, PID, va(3)), { name: 'ImageError', code: 'BROKEN_CHAIN' });
  // no link at all
  rmSync(join(b3, 'parent'));
  assert.throws(() => resolvePage(b3, PID, va(0)), { code: 'MISSING_PARENT' });
  // a loop
  symlinkSync('.', join(b3, 'parent'));
  assert.throws(() => resolvePage(b3, PID, va(0)), { code: 'BROKEN_CHAIN' });
  // a parent without this pid's pagemap
  rmSync(join(b3, 'parent'));
  symlinkSync('../pre2', join(b3, 'parent'));
  rmSync(join(base, 'pre2', 'pagemap-4242.img'));
  assert.throws(() => resolvePage(b3, PID, va(0)), { code: 'BROKEN_CHAIN' });
  // the top directory without the pid
  assert.throws(() => resolvePage(b3, 999, va(0)), { code: 'MISSING_IMAGE' });
  // create() refuses a parent that does not exist
  assert.throws(() => ImageDir.create(join(base, 'pre4'), { parent: '../nope' }), { code: 'MISSING_PARENT' });
});

test('abort leaves no inventory, no temporaries, and a marker with the reason', () => {
  const path = join(root, 'aborted');
  const d = ImageDir.create(path, { parent: '../pre1' });
  const w = d.pagemapWriter(PID);
  w.addPages(va(0), 1, page(9, 0));
  d.writeStats(stats);
  d.setInventory(preDumpInventory(PRE_DUMP_MODE.READ, 1));
  // mid-write: only temporaries, no inventory
  assert.deepEqual(readdirSync(path).sort(), [
    '.pagemap-4242.img.tmp',
    '.pages-1.img.tmp',
    '.stats-dump.tmp',
    'parent',
  ]);
  d.abort('target exited');
  d.abort('twice is fine');
  assert.deepEqual(readdirSync(path).sort(), ['INCOMPLETE', 'parent']);
  assert.equal(readFileSync(join(path, 'INCOMPLETE'), 'utf8'), 'target exited\n');
  const o = ImageDir.open(path);
  assert.equal(o.complete, false);
  assert.equal(o.incompleteReason, 'target exited');
  assert.throws(() => o.inventory(), { code: 'INCOMPLETE' });
  assert.throws(() => d.commit(), { code: 'BAD_STATE' });
  assert.throws(() => w.addPages(va(1), 1, page(9, 1)), { code: 'BAD_STATE' });
  // a retry in the same directory starts clean and commits
  {
    using again = ImageDir.create(path, { parent: '../pre1' });
    again.setInventory(preDumpInventory(PRE_DUMP_MODE.READ, 1));
    again.commit();
  }
  assert.deepEqual(readdirSync(path).sort(), ['inventory.img', 'parent']);
  assert.throws(() => ImageDir.create(path), { code: 'EXISTS' });
});

test('disposing an uncommitted directory aborts it', () => {
  const path = join(root, 'disposed');
  {
    using d = ImageDir.create(path);
    d.pagemapWriter(PID).addHole(va(0), 1);
  }
  assert.deepEqual(readdirSync(path), ['INCOMPLETE']);
  assert.equal(existsSync(join(path, 'inventory.img')), false);
});

test('the writer asserts ascending, non-overlapping, page-sized input', () => {
  const path = join(root, 'asserts');
  using d = ImageDir.create(path);
  const w = d.pagemapWriter(PID);
  w.addPages(va(4), 2, page(1, 4, 2));
  assert.throws(() => w.addPages(va(5), 1, page(1, 5)), { code: 'BAD_ORDER' });
  assert.throws(() => w.addHole(va(0), 1), { code: 'BAD_ORDER' });
  assert.throws(() => w.addPages(va(6), 2, page(1, 6)), { code: 'BAD_STATE' });
  assert.throws(() => w.addPages(va(6) + 1, 1, page(1, 6)), { code: 'BAD_STATE' });
  assert.throws(() => w.addHole(va(6), 1, PE.PRESENT), { code: 'BAD_STATE' });
  assert.throws(() => w.addPages(va(6), 1, page(1, 6), PE.PARENT), { code: 'BAD_STATE' });
  assert.throws(() => d.pagemapWriter(PID), { code: 'BAD_STATE' });
  w.addHole(va(6), 1);
  assert.equal(w.pagesOffset, 2 * PAGE_SIZE);
  assert.deepEqual(w.counts, { pagesWritten: 2, holePages: 1, entries: 1 });
});

const critProbe = spawnSync('crit', ['--help'], { encoding: 'utf8' });
const noCrit = skipUnlessAvailable(
  'crit',
  critProbe.status === 0 ? false : `crit is not installed (${critProbe.error?.message ?? critProbe.stderr})`,
);

function crit(...args: string[]): unknown {
  const r = spawnSync('crit', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `crit ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

test('crit decode reads our inventory, pagemap, stats-dump and irmap-cache', { skip: noCrit }, () => {
  assert.deepEqual(crit('decode', '-i', join(pre3, 'inventory.img'), '--pretty'), {
    magic: 'INVENTORY',
    entries: [{ img_version: 0, dump_uptime: 3_000_000, pre_dump_mode: 1 }],
  });
  assert.deepEqual(crit('decode', '-i', join(pre3, 'pagemap-4242.img'), '--pretty'), {
    magic: 'PAGEMAP',
    entries: [
      { pages_id: 1 },
      { vaddr: '0x7f0000000000', nr_pages: 2, flags: 'PE_PARENT' },
      { vaddr: '0x7f0000002000', nr_pages: 1, flags: 'PE_PRESENT' },
      { vaddr: '0x7f0000003000', nr_pages: 2, flags: 'PE_PARENT' },
      { vaddr: '0x7f0000005000', nr_pages: 1, flags: 'PE_LAZY | PE_PRESENT' },
      { vaddr: '0x7f0000006000', nr_pages: 2, flags: 'PE_PARENT' },
    ],
  });
  assert.deepEqual(crit('decode', '-i', join(pre2, 'stats-dump'), '--pretty'), {
    magic: 'STATS',
    entries: [{ dump: { ...stats, pages_written: 2, pages_skipped_parent: 6 } }],
  });
  assert.deepEqual(crit('decode', '-i', join(pre1, 'irmap-cache')), { magic: 'IRMAP_CACHE', entries: [] });
  // plain (not pretty) decoding gives numbers
  const raw = crit('decode', '-i', join(pre1, 'pagemap-4242.img')) as { entries: unknown[] };
  assert.deepEqual(raw.entries[1], { vaddr: BASE, nr_pages: 8, flags: PE.PRESENT });
});

test('crit show reads our pagemap', { skip: noCrit }, () => {
  const shown = crit('show', join(pre1, 'pagemap-4242.img')) as { magic: string; entries: unknown[] };
  assert.equal(shown.magic, 'PAGEMAP');
  assert.deepEqual(shown.entries[1], { vaddr: '0x7f0000000000', nr_pages: 8, flags: 'PE_PRESENT' });
});

test('covers: whether a range has data somewhere in the chain (the check before writing holes)', () => {
  using chain = new PageChain(ImageDir.open(pre3), PID);
  assert.equal(chain.covers(va(0), 8), true);
  assert.equal(chain.covers(va(7), 2), false);
  using pre1Chain = new PageChain(ImageDir.open(pre1), PID);
  assert.equal(pre1Chain.covers(BASE - PAGE_SIZE, 1), false);
});

test('a synced commit gives the same directory', () => {
  const path = join(root, 'synced');
  {
    using d = ImageDir.create(path, { parent: '../pre3', sync: true });
    d.pagemapWriter(PID).addHole(va(0), 8);
    d.writeIrmapCache();
    d.setInventory(preDumpInventory(PRE_DUMP_MODE.READ, 4_000_000));
    d.commit();
  }
  assert.deepEqual(readdirSync(path).sort(), [
    'inventory.img',
    'irmap-cache',
    'pagemap-4242.img',
    'pages-1.img',
    'parent',
  ]);
  assert.deepEqual(resolvePage(path, PID, va(3)), page(1, 3));
});

test('images that crit encodes (an independent encoder) decode with our schema', { skip: noCrit }, () => {
  const dir = mkdtempSync(join(root, 'crit-encoded-'));
  const encode = (name: string, json: unknown) => {
    const src = join(dir, `${name}.json`);
    writeFileSync(src, JSON.stringify(json));
    const r = spawnSync('crit', ['encode', '-i', src, '-o', join(dir, name)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  // crit 3.17 knows pagemap field 2 as nr_pages and still writes legacy in_parent / flag-less entries
  encode('pagemap-7.img', {
    magic: 'PAGEMAP',
    entries: [
      { pages_id: 2 },
      { vaddr: 0x400000, nr_pages: 3, flags: PE.PRESENT },
      { vaddr: 0x403000, nr_pages: 2, in_parent: true },
      { vaddr: 0x405000, nr_pages: 1 },
    ],
  });
  using pm = PagemapReader.open(dir, 'pagemap-7.img');
  assert.equal(pm.pagesId, 2);
  assert.deepEqual(pm.ranges, [
    { vaddr: 0x400000, nrPages: 3, flags: PE.PRESENT, offset: 0 },
    { vaddr: 0x403000, nrPages: 2, flags: PE.PARENT },
    { vaddr: 0x405000, nrPages: 1, flags: PE.PRESENT, offset: 3 * PAGE_SIZE },
  ]);
  encode('inventory.img', {
    magic: 'INVENTORY',
    entries: [
      {
        img_version: 2,
        fdinfo_per_id: true,
        root_ids: { vm_id: 1, files_id: 1, fs_id: 1, sighand_id: 1, pid_ns_id: 2, net_ns_id: 3 },
        ns_per_id: true,
        root_cg_set: 1,
        lsmtype: 'APPARMOR',
        dump_uptime: 12_345_670_000,
        network_lock_method: 1,
      },
    ],
  });
  assert.deepEqual(ImageDir.open(dir).inventory(), {
    img_version: 2,
    fdinfo_per_id: true,
    root_ids: { vm_id: 1, files_id: 1, fs_id: 1, sighand_id: 1, pid_ns_id: 2, net_ns_id: 3 },
    ns_per_id: true,
    root_cg_set: 1,
    lsmtype: 2,
    dump_uptime: 12_345_670_000,
    network_lock_method: 1,
  });
});
