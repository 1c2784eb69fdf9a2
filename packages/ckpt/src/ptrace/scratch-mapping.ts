/**
 * The injector's scratch mapping in the target: 3 private anonymous pages, named `[anon:ckpt-injector]`
 * in /proc/PID/maps (PR_SET_VMA_ANON_NAME, where the kernel has it) and signed in its first bytes.
 *
 * ```
 * +0x0000  r-x  SIGNATURE ("ckpt-injector-scratch v1 tracer=<pid>")   resume stub at +0x40
 * +0x1000  rw-  data area: argument structs of injected calls (Injector.scratch), the anon name
 * +0x2000  rw-  restore frame at the top (+0x2f00); room below it for a signal frame
 * ```
 * The injector unmaps it at cure. If ckpt dies (SIGKILL) while a thread is infected, the mapping stays
 * behind, harmless (nothing points into it once the thread resumed): findScratchMappings() recognises it
 * by name or signature, so a later run can report it, or remove it by injecting munmap. Not recognised:
 * a mapping whose mmap had just returned when ckpt died (3 anonymous r-x pages of zeros, unsigned yet).
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
const MAGIC = 'ckpt-injector-scratch v1 tracer=';

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
      try {
        mem ??= RemoteMemory.open(pid);
        const head = mem.read(v.start, STUB_OFFSET).toString('latin1');
        if (head.startsWith(MAGIC)) tracer = Number.parseInt(head.slice(MAGIC.length), 10) || 0;
        else if (!named) continue;
      } catch {
        if (!named) continue;
      }
      out.push({ start: v.start, end: Math.max(v.end, v.start + SCRATCH_SIZE), tracer });
    }
  } finally {
    mem?.close();
  }
  return out;
}
