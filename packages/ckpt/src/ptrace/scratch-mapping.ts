/**
 * The injector's scratch mapping in the target: 3 private anonymous pages, named `[anon:ckpt-injector]`
 * in /proc/PID/maps (PR_SET_VMA_ANON_NAME, where the kernel has it) and signed in its first bytes.
 *
 * ```
 * +0x0000  r-x  SIGNATURE ("ckpt-injector-scratch v1 tracer=<pid>")   resume stub at +0x40
 *               +0x80: the batch loop (call-batch.ts); +0x100..+0x800: the other threads' resume stubs
 *               (guest-thread.ts: one 64-byte slot each, 28 here and 24 more after the table)
 *               +0x800: table of the injector's live data mappings (Injector.mmap): 32 slots of
 *               (address, length) u64 pairs, an entry written after its mmap returned and cleared
 *               before its munmap (a ckpt killed in between leaks the mapping, never unmaps another)
 * +0x1000  rw-  data area: argument structs of injected calls (Injector.scratch), the anon name
 * +0x2000  rw-  a batch's table of calls (32 x 64 bytes, read by the loop only while it runs);
 *               restore frame at the top (+0x2f00); room below it for a signal frame
 * ```
 * The guest threads' restore frames are on their own stacks (below the red zone), not here. The layout
 * changes nothing for a later run: one mapping of 3 pages, signed, named, with its table at +0x800.
 * The injector unmaps it at cure. If ckpt dies (SIGKILL) while a thread is infected, the mapping stays
 * behind, harmless (nothing points into it once the thread resumed): findScratchMappings() recognises it
 * by name, signature, or (unsigned yet) its address, and its table names the data mappings that were live, so a later run can report
 * them, or remove them by injecting munmap (mem/track/leftover.ts). Not recognised: a mapping whose mmap
 * had just returned when ckpt died (3 anonymous r-x pages of zeros, unsigned yet) where SCRATCH_ADDRESS
 * was taken, a data mapping whose
 * mmap had just returned (not in the table yet). Trusted: that the target did not map memory of its own
 * over a leaked data range with MAP_FIXED after ckpt died (a range still covered by private anonymous
 * rw- mappings is taken to be ours).
 *
 * @example
 * for (const m of findScratchMappings(pid)) console.log(`left by ckpt ${m.tracer}: 0x${m.start.toString(16)}`);
 */
import { readMaps } from '../proc/index.js';
import { PAGE_SIZE } from '../sys/index.js';
import { RemoteMemory } from './remote-memory.js';

export const SCRATCH_PAGES = 3;
export const SCRATCH_SIZE = SCRATCH_PAGES * PAGE_SIZE;
export const SCRATCH_NAME = 'ckpt-injector';
export const STUB_OFFSET = 0x40;
export const DATA_OFFSET = PAGE_SIZE;
export const DATA_SIZE = PAGE_SIZE;
export const FRAME_OFFSET = 3 * PAGE_SIZE - 0x100;
/** The batch loop (call-batch.ts) in the code page. */
export const BATCH_OFFSET = 0x80;
/** The table of a batch's calls: the start of the third page (below the frame's signal room). */
export const BATCH_TABLE_OFFSET = 2 * PAGE_SIZE;
/** Calls per batch run (a longer batch runs in chunks). */
export const BATCH_TABLE_ENTRIES = 32;
/** Bytes of a guest thread's stub slot in the code page (guest-thread.ts). */
const GUEST_SLOT = 0x40;

/**
 * Offset of guest thread `i`'s resume stub in the code page (guest-thread.ts): between the batch loop and
 * the table of data mappings, then after that table; undefined past the last slot (52 guests).
 */
export function guestStubOffset(i: number): number | undefined {
  const low = (TABLE_OFFSET - 0x100) / GUEST_SLOT;
  if (i < low) return 0x100 + i * GUEST_SLOT;
  const high = (PAGE_SIZE - TABLE_OFFSET - TABLE_SLOTS * SLOT_SIZE) / GUEST_SLOT;
  if (i < low + high) return TABLE_OFFSET + TABLE_SLOTS * SLOT_SIZE + (i - low) * GUEST_SLOT;
  return undefined;
}
const MAGIC = 'ckpt-injector-scratch v1 tracer=';
/**
 * Where the injector asks for its scratch mapping (a hint: the kernel maps it elsewhere when taken): an
 * address far from where the kernel places mappings by itself, so that a mapping a ckpt killed right after
 * its mmap left unsigned (3 anonymous r-x pages of zeros) is still known as ours by where it is.
 */
export const SCRATCH_ADDRESS = 0x7e5c_0000_0000;
/** The table of live data mappings in the code page. */
export const TABLE_OFFSET = 0x800;
export const TABLE_SLOTS = 32;
const SLOT_SIZE = 16;

/** The bytes of table slot `i` (address and length; zeros: free). */
export function tableSlot(address: number, length: number): { offset: number; bytes: Uint8Array } {
  const b = Buffer.alloc(SLOT_SIZE);
  b.writeBigUInt64LE(BigInt(address), 0);
  b.writeBigUInt64LE(BigInt(length), 8);
  return { offset: TABLE_OFFSET, bytes: b };
}

/** The live data mappings a table lists. */
function readTable(bytes: Buffer): Array<{ start: number; end: number }> {
  const out: Array<{ start: number; end: number }> = [];
  for (let i = 0; i + SLOT_SIZE <= bytes.length; i += SLOT_SIZE) {
    const a = bytes.readBigUInt64LE(i);
    const n = bytes.readBigUInt64LE(i + 8);
    if (a === 0n || n === 0n || a + n > 0x8000_0000_0000n) continue;
    out.push({ start: Number(a), end: Number(a + n) });
  }
  return out;
}

/** The signature written at the start of the mapping (< STUB_OFFSET bytes). */
export function scratchSignature(tracerPid: number): Uint8Array {
  return Buffer.from(`${MAGIC}${tracerPid}\n\0`, 'latin1');
}

/** A scratch mapping found in a process. */
export interface ScratchMapping {
  readonly start: number;
  readonly end: number;
  /** Pid of the ckpt process that made it (0 when only the name identified it). */
  readonly tracer: number;
  /** The data mappings its table lists as live (signed mappings only). */
  readonly data: ReadonlyArray<{ readonly start: number; readonly end: number }>;
}

/**
 * The injector scratch mappings present in `pid` (left behind by a ckpt that died while injecting, or
 * the live one of an injector at work). Reads /proc/PID/maps and the first bytes of candidates.
 */
export function findScratchMappings(pid: number): ScratchMapping[] {
  const out: ScratchMapping[] = [];
  const maps = readMaps(pid);
  let mem: RemoteMemory | undefined;
  try {
    for (const v of maps) {
      // the code page: r-x, anonymous or named (a leftover made r-x in full can merge with another)
      if (!v.exec || v.write) continue;
      const named = v.path === `[anon:${SCRATCH_NAME}]`;
      if (!named && v.path !== '') continue;
      let tracer = 0;
      let data: Array<{ start: number; end: number }> = [];
      try {
        mem ??= RemoteMemory.open(pid);
        const head = mem.read(v.start, STUB_OFFSET).toString('latin1');
        if (head.startsWith(MAGIC)) {
          tracer = Number.parseInt(head.slice(MAGIC.length), 10) || 0;
          data = readTable(mem.read(v.start + TABLE_OFFSET, TABLE_SLOTS * SLOT_SIZE));
        } else if (!named && !(v.start === SCRATCH_ADDRESS && /^\0+$/.test(head))) continue;
      } catch {
        if (!named) continue;
      }
      out.push({ start: v.start, end: Math.max(v.end, v.start + SCRATCH_SIZE), tracer, data });
    }
  } finally {
    mem?.close();
  }
  return out;
}

/**
 * Data mappings an injector made with Injector.mmap() (named `[anon:ckpt-injector]`, not executable)
 * outside any scratch mapping: what a ckpt killed between such an mmap and its munmap left behind.
 * Unnamed ones (killed between the mmap and the naming, a few microseconds) cannot be told from the
 * target's own.
 */
export function findInjectorData(pid: number, scratch = findScratchMappings(pid)): ScratchMapping[] {
  const inScratch = (a: number) => scratch.some((m) => m.start <= a && a < m.start + SCRATCH_SIZE);
  return readMaps(pid)
    .filter((v) => v.path === `[anon:${SCRATCH_NAME}]` && !v.exec && !inScratch(v.start))
    .map((v) => ({ start: v.start, end: v.end, tracer: 0, data: [] }));
}
