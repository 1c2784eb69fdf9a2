/**
 * Our protobuf schema for the CRIU messages ckpt reads and writes (proto2, field numbers from the fact
 * sheet `shared/research/criu-formats.md`), compiled once with protobufjs, and a typed codec per message.
 *
 * Field names keep CRIU's snake_case, so decoded objects look like `crit decode` output.
 *
 * 64-bit fields: exact, one of two ways (the rule for every message added here):
 * ```
 *  a size, an address or a count the code computes with     -> number, listed in NUMBER_64 below; decode
 *   (vaddr, nr_pages, dump_uptime, the stats counters)          and encode check it is a safe integer
 *                                                               (<= 2^53 - 1), else ImageError CORRUPT_IMAGE
 *  anything else: flags, signal masks, registers, xsave     -> bigint (any 64-bit pattern, exact both ways;
 *   words, handler addresses (sa_entry)                         a number is accepted on encode)
 * ```
 * A 64-bit field not listed in NUMBER_64 is a bigint: a new message is exact by default.
 *
 * @example
 * const bytes = pagemapEntryCodec.encode({ vaddr: 0x400000, compat_nr_pages: 1, flags: PE.PRESENT, nr_pages: 1 });
 * pagemapEntryCodec.decode(bytes).vaddr === 0x400000; // true
 */
import protobuf from 'protobufjs';
import { warmOnDemand } from './codec-warmup.js';
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

message sa_entry {
  required uint64 sigaction = 1;
  required uint64 flags = 2;
  required uint64 restorer = 3;
  required uint64 mask = 4;
  optional bool compat_sigaction = 5;
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

/** `sa_entry`: one signal's disposition (a full dump's sigacts). Every 64-bit field is exact (bigint). */
export interface SaEntry {
  sigaction: bigint;
  flags: bigint;
  restorer: bigint;
  mask: bigint;
  compat_sigaction?: boolean;
}

/**
 * The 64-bit fields that are numbers (sizes, addresses, counts), per message; every other 64-bit field
 * is a bigint (see the module comment).
 */
const NUMBER_64: Readonly<Record<string, readonly string[]>> = {
  inventory_entry: ['dump_uptime'],
  pagemap_entry: ['vaddr', 'nr_pages'],
  dump_stats_entry: [
    'pages_scanned',
    'pages_skipped_parent',
    'pages_written',
    'pages_lazy',
    'page_pipes',
    'page_pipe_bufs',
    'shpages_scanned',
    'shpages_skipped_parent',
    'shpages_written',
  ],
  restore_stats_entry: ['pages_compared', 'pages_skipped_cow', 'pages_restored'],
};

/** Encode/decode pair for one message type. `decode` throws only `ImageError` (`CORRUPT_IMAGE`). */
export interface MessageCodec<T> {
  readonly name: string;
  encode(value: T): Uint8Array;
  /** `encode` without the type check, for values built by our own code on hot paths. */
  encodeTrusted(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

const root = protobuf.parse(PROTO, { keepCase: true }).root;
warmOnDemand(root);

const LONG_TYPES = new Set(['uint64', 'int64', 'sint64', 'fixed64', 'sfixed64']);

/** How one message's 64-bit fields convert: its number fields, and its sub-messages' plans. */
interface LongPlan {
  readonly type: string;
  readonly numbers: readonly string[];
  readonly bigints: readonly string[];
  readonly nested: readonly { readonly field: string; readonly plan: LongPlan }[];
}

function planOf(type: protobuf.Type): LongPlan | undefined {
  const listed = NUMBER_64[type.name] ?? [];
  const numbers: string[] = [];
  const bigints: string[] = [];
  const nested: { field: string; plan: LongPlan }[] = [];
  for (const f of type.fieldsArray) {
    f.resolve();
    if (LONG_TYPES.has(f.type)) (listed.includes(f.name) ? numbers : bigints).push(f.name);
    else if (f.resolvedType instanceof protobuf.Type) {
      const p = planOf(f.resolvedType);
      if (p) nested.push({ field: f.name, plan: p });
    }
  }
  for (const n of listed)
    if (!numbers.includes(n)) throw new Error(`NUMBER_64: ${type.name}.${n} is no 64-bit field`);
  return numbers.length + bigints.length + nested.length > 0
    ? { type: type.name, numbers, bigints, nested }
    : undefined;
}

/** protobufjs's decoded 64-bit value: a Long (low and high words), or a number when it has no Long. */
type Long64 = number | { low: number; high: number; unsigned: boolean };

/** The exact value of a decoded 64-bit field. */
function bigOf(v: Long64): bigint {
  if (typeof v === 'number') return BigInt(v);
  const u = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return v.unsigned ? u : BigInt.asIntN(64, u);
}

/**
 * Decoded (64-bit fields as protobufjs's Longs): number fields become numbers, checked safe (|value| below
 * 2^53: the high word within +-2^21); the others become bigints. In place.
 */
function convertDecoded(o: Record<string, unknown>, plan: LongPlan): void {
  for (const f of plan.numbers) {
    const v = o[f] as Long64 | undefined;
    if (v === undefined || typeof v === 'number') continue;
    const high = v.unsigned ? v.high >>> 0 : v.high | 0;
    const n = high * 0x100000000 + (v.low >>> 0);
    if (!Number.isSafeInteger(n) || high >= 0x200000 || high < -0x200000) {
      throw new ImageError(
        'CORRUPT_IMAGE',
        `${plan.type}.${f} = ${bigOf(v)} is beyond 2^53: not a size, address or count`,
      );
    }
    o[f] = n;
  }
  for (const f of plan.bigints) {
    const v = o[f] as Long64 | undefined;
    if (v !== undefined) o[f] = bigOf(v);
  }
  for (const { field, plan: p } of plan.nested) {
    const v = o[field];
    if (v && typeof v === 'object') convertDecoded(v as Record<string, unknown>, p);
  }
}

/** For encoding: numbers checked safe, bigints as protobufjs's Long-like {low, high}. Returns a copy. */
function toWire(value: Record<string, unknown>, plan: LongPlan): Record<string, unknown> {
  const o = { ...value };
  for (const f of plan.numbers) {
    const v = o[f];
    if (typeof v === 'number' && !Number.isSafeInteger(v)) {
      throw new ImageError('CORRUPT_IMAGE', `${plan.type}.${f} = ${v} is not a safe integer`);
    }
    if (typeof v === 'bigint')
      throw new ImageError('CORRUPT_IMAGE', `${plan.type}.${f} is a number field, got a bigint`);
  }
  for (const f of plan.bigints) {
    const v = o[f];
    if (typeof v === 'bigint') {
      const u = BigInt.asUintN(64, v);
      o[f] = { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned: true };
    }
  }
  for (const { field, plan: p } of plan.nested) {
    const v = o[field];
    if (v && typeof v === 'object') o[field] = toWire(v as Record<string, unknown>, p);
  }
  return o;
}

function codec<T>(name: string): MessageCodec<T> {
  const type = root.lookupType(name);
  const plan = planOf(type);
  // only messages with bigint fields pay for the conversion on the trusted (hot) encode path
  const hasBigints = (p: LongPlan | undefined): boolean =>
    p !== undefined && (p.bigints.length > 0 || p.nested.some((n) => hasBigints(n.plan)));
  const convertTrusted = hasBigints(plan);
  return {
    name,
    encode(value: T): Uint8Array {
      const wire = plan ? toWire(value as Record<string, unknown>, plan) : (value as Record<string, unknown>);
      const problem = type.verify(wire);
      if (problem) throw new ImageError('CORRUPT_IMAGE', `${name}: ${problem}`);
      return type.encode(type.fromObject(wire)).finish();
    },
    encodeTrusted(value: T): Uint8Array {
      const wire = convertTrusted ? toWire(value as Record<string, unknown>, plan!) : value;
      return type.encode(wire as Record<string, unknown>).finish();
    },
    decode(bytes: Uint8Array): T {
      let o: Record<string, unknown>;
      try {
        const message = type.decode(bytes);
        o = type.toObject(message, { enums: Number, arrays: false }); // 64-bit fields stay Longs
      } catch (e) {
        throw new ImageError('CORRUPT_IMAGE', `${name}: ${(e as Error).message}`, { cause: e });
      }
      if (plan) convertDecoded(o, plan);
      return o as T;
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
/** Codec of `sa_entry`. */
export const saEntryCodec = codec<SaEntry>('sa_entry');
