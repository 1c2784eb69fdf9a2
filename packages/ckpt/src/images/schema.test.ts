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
  type SaEntry,
  type StatsEntry,
  saEntryCodec,
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

/** A proto2 message by hand: (field number, varint value) pairs. */
function varints(...fields: [number, bigint][]): Uint8Array {
  const out: number[] = [];
  const varint = (v: bigint) => {
    let x = BigInt.asUintN(64, v);
    do {
      const b = Number(x & 0x7fn);
      x >>= 7n;
      out.push(x > 0n ? b | 0x80 : b);
    } while (x > 0n);
  };
  for (const [n, v] of fields) {
    varint(BigInt(n << 3));
    varint(v);
  }
  return Uint8Array.from(out);
}

test('64-bit masks and addresses that are not sizes are bigint, exact both ways', () => {
  const sa: SaEntry = {
    sigaction: 0x7fff_ffff_ffff_f123n,
    flags: 0x0400_0000_0000_0004n,
    restorer: 0xffff_ffff_ff60_0000n,
    mask: 0xffff_ffff_ffff_fffen, // every signal but SIGHUP: beyond 2^53, not representable as a number
    compat_sigaction: false,
  };
  const bytes = saEntryCodec.encode(sa);
  assert.deepEqual(saEntryCodec.decode(bytes), sa);
  assert.deepEqual(saEntryCodec.decode(saEntryCodec.encodeTrusted(sa)), sa);
  // the same bytes as a hand-built message: the encoding is the plain unsigned varint
  assert.equal(
    Buffer.from(bytes).toString('hex'),
    Buffer.from(varints([1, sa.sigaction], [2, sa.flags], [3, sa.restorer], [4, sa.mask], [5, 0n])).toString(
      'hex',
    ),
  );
});

test('64-bit sizes, addresses and counts are numbers, and one beyond 2^53 is CORRUPT_IMAGE', () => {
  const ok = pagemapEntryCodec.decode(varints([1, 0x7fff_f000_0000n], [2, 1n], [5, 1n]));
  assert.equal(ok.vaddr, 0x7fff_f000_0000);
  assert.equal(typeof ok.nr_pages, 'number');
  // 2^60 + 1 would silently become 2^60 as a number
  assert.throws(() => pagemapEntryCodec.decode(varints([1, (1n << 60n) + 1n], [2, 1n])), {
    code: 'CORRUPT_IMAGE',
    message: /pagemap_entry\.vaddr = 1152921504606846977 is beyond 2\^53/,
  });
  assert.throws(() => pagemapEntryCodec.decode(varints([1, 0n], [2, 1n], [5, 1n << 55n])), {
    code: 'CORRUPT_IMAGE',
  });
  assert.throws(() => pagemapEntryCodec.encode({ vaddr: 2 ** 53 + 2, compat_nr_pages: 1 }), {
    code: 'CORRUPT_IMAGE',
    message: /vaddr = 9007199254740994 is not a safe integer/,
  });
  const dump = {
    freezing_time: 1,
    frozen_time: 2,
    memdump_time: 3,
    memwrite_time: 4,
    pages_scanned: 5,
    pages_skipped_parent: 6,
    pages_written: 2 ** 40,
    pages_lazy: 0,
  };
  const st = statsEntryCodec.decode(statsEntryCodec.encode({ dump }));
  assert.equal(st.dump?.pages_written, 2 ** 40);
});
