/**
 * The trampoline: two pages placed where neither the process being rebuilt nor the dumped layout has
 * anything, holding the `syscall` instruction every injected call runs from (page 0) and room for the
 * arguments of those calls (paths, structs: the rest of page 0 and page 1), followed by a parking area
 * for the vdso/vvar while they move. It is mapped first (from the stub the clone inherited) and unmapped
 * last, by a munmap of itself whose return is caught at syscall-exit (CRIU's trick).
 *
 * ```
 * tramp + 0      0f 05 cc          syscall; int3
 * tramp + 256    argument area (ARG_SIZE bytes)
 * tramp + 8192   parking area (parkPages pages, unmapped: only reserved in the search)
 * ```
 *
 * @example
 * const at = findTrampoline([cur, image], parkBytes); // an address free in both
 */
import { MAP, PAGE_SIZE, PROT, RSYS } from '../sys/index.js';
import { RestoreError } from './errors.js';
import type { RemoteTask } from './remote-task.js';

export const TRAMPOLINE_SIZE = 2 * PAGE_SIZE;
export const SYSCALL_CODE = Buffer.from([0x0f, 0x05, 0xcc]);
/** Offset and size of the argument area inside the trampoline. */
export const ARG_OFFSET = 256;
export const ARG_SIZE = TRAMPOLINE_SIZE - ARG_OFFSET;

/** Lowest and highest address considered (above mmap_min_addr, below the 47-bit user space end). */
const LOW = 0x10000000;
const HIGH = 0x7ff000000000;

/**
 * An address (page-aligned) where [at, at + TRAMPOLINE_SIZE + park) is free in every layout of `layouts`
 * (lists of [start, end) ranges). Prefers the highest hole below the others, as mmap does.
 */
export function findTrampoline(
  layouts: readonly (readonly (readonly [number, number])[])[],
  park: number,
): number {
  const need = TRAMPOLINE_SIZE + park + 2 * PAGE_SIZE; // a guard page on each side
  const used = layouts.flat().filter(([s, e]) => e > LOW && s < HIGH);
  used.sort((a, b) => a[0] - b[0]);
  const holes: [number, number][] = [];
  let pos = LOW;
  for (const [s, e] of used) {
    if (s > pos) holes.push([pos, s]);
    pos = Math.max(pos, e);
  }
  if (pos < HIGH) holes.push([pos, HIGH]);
  for (const [s, e] of holes.reverse()) {
    if (e - s < need) continue;
    // just below the top of the hole, away from whatever is above it
    return e - need + PAGE_SIZE;
  }
  throw new RestoreError('ENOTSUP', 'no room for the trampoline in the address space');
}

/** The trampoline page in `task` (from the `syscall` it inherited), its code written; calls run from it. */
export function mapTrampoline(task: RemoteTask, tramp: number): void {
  const rwx = PROT.READ | PROT.WRITE | PROT.EXEC;
  const flags = MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED_NOREPLACE;
  const got = task.call('mmap the trampoline', RSYS.mmap, tramp, TRAMPOLINE_SIZE, rwx, flags, -1, 0);
  if (got !== tramp) throw new RestoreError('EIO', `the trampoline landed at 0x${got.toString(16)}`);
  task.write(tramp, SYSCALL_CODE);
  task.useTrampoline(tramp);
}
