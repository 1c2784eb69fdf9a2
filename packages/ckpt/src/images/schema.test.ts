import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImageError } from './errors.js';
import { PE } from './magics.js';
import { entryFlags, entryPages, pagemapEntry } from './pagemap.js';
import {
  type InventoryEntry,
  inventoryEntryCodec,
  pagemapEntryCodec,
  pagemapHeadCodec,
  type StatsEntry,
  statsEntryCodec,
} from './schema.js';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');

test('pagemap_entry from the fact sheet decodes (modern CRIU: compat 0, nr_pages 1)', () => {
  const e = pagemapEntryCodec.decode(hex('08 80 c0 b4 cf f6 aa 15 10 00 20 04 28 01'));
  assert.deepEqual(e, { vaddr: 0x555769ed2000, compat_nr_pages: 0, flags: 4, nr_pages: 1 });
  assert.equal(entryPages(e), 1);
  assert.equal(entryFlags(e), PE.PRESENT);
  // our encoding writes both counts
  const again = pagemapEntryCodec.decode(pagemapEntryCodec.encode(pagemapEntry(e.vaddr, 1, 4)));
  assert.deepEqual(again, { vaddr: e.vaddr, compat_nr_pages: 1, flags: 4, nr_pages: 1 });
  assert.deepEqual(
    pagemapEntryCodec.encode(pagemapEntry(e.vaddr, 1, 4)),
    hex('08 80 c0 b4 cf f6 aa 15 10 01 20 04 28 01'),
  );
});

test('legacy pagemap entries: no flags means PE_PRESENT, in_parent means PE_PARENT, compat count', () => {
  assert.equal(entryFlags({ vaddr: 0, compat_nr_pages: 3 }), PE.PRESENT);
  assert.equal(entryFlags({ vaddr: 0, compat_nr_pages: 3, in_parent: true }), PE.PARENT);
  assert.equal(entryPages({ vaddr: 0, compat_nr_pages: 3 }), 3);
  assert.equal(entryPages({ vaddr: 0, compat_nr_pages: 0, nr_pages: 5 }), 5);
  const big = pagemapEntry(0x1000, 2 ** 33, PE.PARENT);
  assert.equal(big.compat_nr_pages, 0);
  assert.equal(pagemapEntryCodec.decode(pagemapEntryCodec.encode(big)).nr_pages, 2 ** 33);
});

test('pagemap_head round trip: 08 01', () => {
  assert.deepEqual(pagemapHeadCodec.encode({ pages_id: 1 }), hex('08 01'));
  assert.deepEqual(pagemapHeadCodec.decode(hex('08 01')), { pages_id: 1 });
  assert.deepEqual(pagemapHeadCodec.decode(pagemapHeadCodec.encode({ pages_id: 65537 })), {
    pages_id: 65537,
  });
});

test('inventory_entry round trip, full and pre-dump forms', () => {
  const full: InventoryEntry = {
    img_version: 2,
    fdinfo_per_id: true,
    root_ids: { vm_id: 1, files_id: 2, fs_id: 3, sighand_id: 4, pid_ns_id: 5, net_ns_id: 6, time_ns_id: 12 },
    ns_per_id: true,
    root_cg_set: 1,
    lsmtype: 2,
    dump_uptime: 123_456_780_000,
    pre_dump_mode: 2,
    tcp_close: false,
    network_lock_method: 1,
    plugins_entry: { plugins: ['amdgpu', 'cuda'] },
    dump_criu_run_id: 'abc-123',
    allow_uprobes: true,
  };
  assert.deepEqual(inventoryEntryCodec.decode(inventoryEntryCodec.encode(full)), full);
  const pre: InventoryEntry = { img_version: 0, dump_uptime: 5_000_000, pre_dump_mode: 1, plugins_entry: {} };
  const bytes = inventoryEntryCodec.encode(pre);
  // img_version is required: written even when 0; empty plugins_entry is written as a zero-length field 12
  assert.deepEqual(bytes.subarray(0, 2), hex('08 00'));
  assert.deepEqual(bytes.subarray(-2), hex('62 00'));
  assert.deepEqual(inventoryEntryCodec.decode(bytes), { ...pre, plugins_entry: {} });
});

test('stats_entry round trip with every dump field', () => {
  const s: StatsEntry = {
    dump: {
      freezing_time: 1,
      frozen_time: 2,
      memdump_time: 3,
      memwrite_time: 4,
      pages_scanned: 2 ** 40,
      pages_skipped_parent: 6,
      pages_written: 7,
      irmap_resolve: 8,
      pages_lazy: 9,
      page_pipes: 10,
      page_pipe_bufs: 11,
      shpages_scanned: 12,
      shpages_skipped_parent: 13,
      shpages_written: 14,
    },
  };
  assert.deepEqual(statsEntryCodec.decode(statsEntryCodec.encode(s)), s);
  const r: StatsEntry = {
    restore: { pages_compared: 1, pages_skipped_cow: 2, forking_time: 3, restore_time: 4, pages_restored: 5 },
  };
  assert.deepEqual(statsEntryCodec.decode(statsEntryCodec.encode(r)), r);
});

test('missing required fields and garbage are CORRUPT_IMAGE', () => {
  assert.throws(() => pagemapEntryCodec.decode(hex('08 01')), { name: 'ImageError', code: 'CORRUPT_IMAGE' });
  assert.throws(() => pagemapHeadCodec.decode(hex('')), { code: 'CORRUPT_IMAGE' });
  assert.throws(() => inventoryEntryCodec.decode(hex('ff ff ff')), ImageError);
  assert.throws(() => statsEntryCodec.decode(hex('0a 02 08 01')), { code: 'CORRUPT_IMAGE' });
});
