/**
 * The trampoline: two pages placed where neither the process being rebuilt nor the dumped layout has
 * anything, holding the `syscall` instruction every injected call runs from (page 0), a loop running a
 * table of calls (a batch: call-batch.ts) and room for the arguments of those calls (paths, structs, the
 * batch's table: the rest of page 0 and page 1), followed by a parking area for the vdso/vvar while they
 * move. It is mapped first (from the stub the clone inherited) and unmapped last, by a munmap of itself
 * whose return is caught at syscall-exit (CRIU's trick).
 *
 * ```
 * tramp + 0      0f 05 cc          syscall; int3
 * tramp + 16     the batch loop (BATCH_CODE): r12 = first entry, r13 = end of the table
 *                  loop: if r12 >= r13 goto done
 *                        rax, rdi, rsi, rdx, r10, r8, r9 = [r12 + 0 .. 48]; syscall; [r12 + 56] = rax
 *                        r12 += 64; if rax is not an errno (< -4095 unsigned) goto loop
 *                  done: int3              (r12: past the last entry run; rax: its result)
 * tramp + 256    argument area (ARG_SIZE bytes)
 * tramp + 8192   parking area (parkPages pages, unmapped: only reserved in the search)
 * ```
 *
 * @example
 * const at = findTrampoline([cur, image], parkBytes); // an address free in both
 */
import { MAP, PAGE_SIZE, PROT, RSYS } from '../sys/index.js';
import { RestoreError } from './errors.js';

export const TRAMPOLINE_SIZE = 2 * PAGE_SIZE;
export const SYSCALL_CODE = Buffer.from([0x0f, 0x05, 0xcc]);
/** Offset of the batch loop inside the trampoline (see the module comment; assembled with GNU as). */
export const BATCH_OFFSET = 16;
// biome-ignore format: one instruction a line
export const BATCH_CODE = Buffer.from([
  0x4d, 0x39, 0xec,                   // 00 cmp r12, r13
  0x73, 0x35,                         // 03 jae done (3a)
  0x49, 0x8b, 0x04, 0x24,             // 05 mov rax, [r12]
  0x49, 0x8b, 0x7c, 0x24, 0x08,       // 09 mov rdi, [r12 + 8]
  0x49, 0x8b, 0x74, 0x24, 0x10,       // 0e mov rsi, [r12 + 16]
  0x49, 0x8b, 0x54, 0x24, 0x18,       // 13 mov rdx, [r12 + 24]
  0x4d, 0x8b, 0x54, 0x24, 0x20,       // 18 mov r10, [r12 + 32]
  0x4d, 0x8b, 0x44, 0x24, 0x28,       // 1d mov r8, [r12 + 40]
  0x4d, 0x8b, 0x4c, 0x24, 0x30,       // 22 mov r9, [r12 + 48]
  0x0f, 0x05,                         // 27 syscall
  0x49, 0x89, 0x44, 0x24, 0x38,       // 29 mov [r12 + 56], rax
  0x49, 0x83, 0xc4, 0x40,             // 2e add r12, 64
  0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, // 32 cmp rax, -4095
  0x72, 0xc6,                         // 38 jb loop (00)
  0xcc,                               // 3a done: int3
]);
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

/** What mapTrampoline needs of the task (RemoteTask: an interface, as RemoteTask runs the loop above). */
export interface TrampolineUser {
  call(what: string, nr: number, ...args: number[]): number;
  write(addr: number, bytes: Uint8Array): void;
  useTrampoline(at: number): void;
}

/**
 * The trampoline page in `task` (from the `syscall` it inherited), its code written (the single call's
 * and the batch loop); calls run from it.
 */
export function mapTrampoline(task: TrampolineUser, tramp: number): void {
  const rwx = PROT.READ | PROT.WRITE | PROT.EXEC;
  const flags = MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED_NOREPLACE;
  const got = task.call('mmap the trampoline', RSYS.mmap, tramp, TRAMPOLINE_SIZE, rwx, flags, -1, 0);
  if (got !== tramp) throw new RestoreError('EIO', `the trampoline landed at 0x${got.toString(16)}`);
  const code = Buffer.alloc(BATCH_OFFSET + BATCH_CODE.length);
  SYSCALL_CODE.copy(code, 0);
  BATCH_CODE.copy(code, BATCH_OFFSET);
  task.write(tramp, code);
  task.useTrampoline(tramp);
}
