/**
 * Our protobuf schema for the CRIU messages ckpt reads and writes (proto2, field numbers from the fact
 * sheet `shared/research/criu-formats.md`), compiled once with protobufjs, and a typed codec per message.
 *
 * Field names keep CRIU's snake_case, so decoded objects look like `crit decode` output.
 * 64-bit fields are JavaScript numbers (addresses < 2^47, counters < 2^53).
 *
 * @example
 * const bytes = pagemapEntryCodec.encode({ vaddr: 0x400000, compat_nr_pages: 1, flags: PE.PRESENT, nr_pages: 1 });
 * pagemapEntryCodec.decode(bytes).vaddr === 0x400000; // true
 */
import protobuf from 'protobufjs';
import { ImageError } from './errors.js';

const PROTO = `
syntax = "proto2";

enum lsmtype {
  NO_LSM = 0;
  SELINUX = 1;
  APPARMOR = 2;
}

message task_kobj_ids_entry {
  required uint32 vm_id = 1;
  required uint32 files_id = 2;
  required uint32 fs_id = 3;
  required uint32 sighand_id = 4;
  optional uint32 pid_ns_id = 5;
  optional uint32 net_ns_id = 6;
  optional uint32 ipc_ns_id = 7;
  optional uint32 uts_ns_id = 8;
  optional uint32 mnt_ns_id = 9;
  optional uint32 user_ns_id = 10;
  optional uint32 cgroup_ns_id = 11;
  optional uint32 time_ns_id = 12;
}

message plugins_entry {
  repeated string plugins = 12;
}

message inventory_entry {
  required uint32 img_version = 1;
  optional bool fdinfo_per_id = 2;
  optional task_kobj_ids_entry root_ids = 3;
  optional bool ns_per_id = 4;
  optional uint32 root_cg_set = 5;
  optional lsmtype lsmtype = 6;
  optional uint64 dump_uptime = 8;
  optional uint32 pre_dump_mode = 9;
  optional bool tcp_close = 10;
  optional uint32 network_lock_method = 11;
  optional plugins_entry plugins_entry = 12;
  optional string dump_criu_run_id = 13;
  optional bool allow_uprobes = 14;
}

message pagemap_head {
  required uint32 pages_id = 1;
}

message pagemap_entry {
  required uint64 vaddr = 1;
  required uint32 compat_nr_pages = 2;
  optional bool in_parent = 3;
  optional uint32 flags = 4;
  optional uint64 nr_pages = 5;
}

message dump_stats_entry {
  required uint32 freezing_time = 1;
  required uint32 frozen_time = 2;
  required uint32 memdump_time = 3;
  required uint32 memwrite_time = 4;
  required uint64 pages_scanned = 5;
  required uint64 pages_skipped_parent = 6;
  required uint64 pages_written = 7;
  optional uint32 irmap_resolve = 8;
  required uint64 pages_lazy = 9;
  optional uint64 page_pipes = 10;
  optional uint64 page_pipe_bufs = 11;
  optional uint64 shpages_scanned = 12;
  optional uint64 shpages_skipped_parent = 13;
  optional uint64 shpages_written = 14;
}

message restore_stats_entry {
  required uint64 pages_compared = 1;
  required uint64 pages_skipped_cow = 2;
  required uint32 forking_time = 3;
  required uint32 restore_time = 4;
  optional uint64 pages_restored = 5;
}

message stats_entry {
  optional dump_stats_entry dump = 1;
  optional restore_stats_entry restore = 2;
}
`;

/** `task_kobj_ids_entry`: ids of the kernel objects a task shares (the inventory's `root_ids`). */
export interface TaskKobjIdsEntry {
  vm_id: number;
  files_id: number;
  fs_id: number;
  sighand_id: number;
  pid_ns_id?: number;
  net_ns_id?: number;
  ipc_ns_id?: number;
  uts_ns_id?: number;
  mnt_ns_id?: number;
  user_ns_id?: number;
  cgroup_ns_id?: number;
  time_ns_id?: number;
}

/** `plugins_entry`: names of the CRIU plugins the dump used. */
export interface PluginsEntry {
  plugins?: string[];
}

/** `inventory_entry`: what kind of image set this is (version, pre-dump mode, uptime for pid reuse). */
export interface InventoryEntry {
  img_version: number;
  fdinfo_per_id?: boolean;
  root_ids?: TaskKobjIdsEntry;
  ns_per_id?: boolean;
  root_cg_set?: number;
  /** 0 NO_LSM, 1 SELINUX, 2 APPARMOR */
  lsmtype?: number;
  /** µs since boot when the dump ran (10 ms resolution); the next iteration's pid-reuse check. */
  dump_uptime?: number;
  /** 1 splice, 2 read */
  pre_dump_mode?: number;
  tcp_close?: boolean;
  network_lock_method?: number;
  plugins_entry?: PluginsEntry;
  dump_criu_run_id?: string;
  allow_uprobes?: boolean;
}

/** `pagemap_head`: the first entry of a pagemap image. */
export interface PagemapHead {
  /** The `<n>` of the `pages-<n>.img` holding this pagemap's data. */
  pages_id: number;
}

/** One range of pages. Write both counts: `compat_nr_pages` (old readers) and `nr_pages`. */
export interface PagemapEntry {
  vaddr: number;
  compat_nr_pages: number;
  in_parent?: boolean;
  flags?: number;
  nr_pages?: number;
}

/** Times in µs, counters in pages. */
export interface DumpStatsEntry {
  freezing_time: number;
  frozen_time: number;
  memdump_time: number;
  memwrite_time: number;
  pages_scanned: number;
  pages_skipped_parent: number;
  pages_written: number;
  irmap_resolve?: number;
  pages_lazy: number;
  page_pipes?: number;
  page_pipe_bufs?: number;
  shpages_scanned?: number;
  shpages_skipped_parent?: number;
  shpages_written?: number;
}

/** `restore_stats_entry` (stats-restore); decoded only. */
export interface RestoreStatsEntry {
  pages_compared: number;
  pages_skipped_cow: number;
  forking_time: number;
  restore_time: number;
  pages_restored?: number;
}

/** `stats_entry`: the one entry of stats-dump (`dump`) or stats-restore (`restore`). */
export interface StatsEntry {
  dump?: DumpStatsEntry;
  restore?: RestoreStatsEntry;
}

/** Encode/decode pair for one message type. `decode` throws only `ImageError` (`CORRUPT_IMAGE`). */
export interface MessageCodec<T> {
  readonly name: string;
  encode(value: T): Uint8Array;
  /** `encode` without the type check, for values built by our own code on hot paths. */
  encodeTrusted(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

const root = protobuf.parse(PROTO, { keepCase: true }).root;

function codec<T>(name: string): MessageCodec<T> {
  const type = root.lookupType(name);
  return {
    name,
    encode(value: T): Uint8Array {
      const problem = type.verify(value as Record<string, unknown>);
      if (problem) throw new ImageError('CORRUPT_IMAGE', `${name}: ${problem}`);
      return type.encode(type.fromObject(value as Record<string, unknown>)).finish();
    },
    encodeTrusted(value: T): Uint8Array {
      return type.encode(value as Record<string, unknown>).finish();
    },
    decode(bytes: Uint8Array): T {
      try {
        const message = type.decode(bytes);
        return type.toObject(message, { longs: Number, enums: Number, arrays: false }) as T;
      } catch (e) {
        throw new ImageError('CORRUPT_IMAGE', `${name}: ${(e as Error).message}`, { cause: e });
      }
    },
  };
}

/** Codec of `inventory_entry`. */
export const inventoryEntryCodec = codec<InventoryEntry>('inventory_entry');
/** Codec of `pagemap_head`. */
export const pagemapHeadCodec = codec<PagemapHead>('pagemap_head');
/** Codec of `pagemap_entry`. */
export const pagemapEntryCodec = codec<PagemapEntry>('pagemap_entry');
/** Codec of `stats_entry`. */
export const statsEntryCodec = codec<StatsEntry>('stats_entry');
