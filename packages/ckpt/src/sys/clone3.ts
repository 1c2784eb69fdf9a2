/**
 * `struct clone_args` of clone3(2) (CLONE_ARGS_SIZE_VER2, 88 bytes) with `set_tid`: how a restore asks the
 * kernel for a given pid. The struct and the one-element pid array are written into the calling process's
 * memory (an injected call reads them there).
 *
 * ```
 * off  field          off  field
 *   0  flags           48  stack_size
 *   8  pidfd           56  tls
 *  16  child_tid       64  set_tid       -> address of a pid_t array
 *  24  parent_tid      72  set_tid_size  -> 1: the pid in the caller's pid namespace
 *  32  exit_signal     80  cgroup        (88 bytes: CLONE_ARGS_SIZE_VER2)
 *  40  stack
 * ```
 *
 * @example
 * const args = cloneArgs({ flags: CLONE.PARENT, exitSignal: 17, setTidAt: addr + 88 });
 */

/** clone3's system call number (x86-64). */
export const SYS_CLONE3 = 435;
/** Bytes of `struct clone_args` up to and including `cgroup`. */
export const CLONE_ARGS_SIZE = 88;

export const CLONE = {
  /** The child's parent is the caller's parent (its exit signal is the caller's). */
  PARENT: 0x8000,
  THREAD: 0x10000,
  VM: 0x100,
  FS: 0x200,
  FILES: 0x400,
  SIGHAND: 0x800,
  SYSVSEM: 0x40000,
  SETTLS: 0x80000,
  PARENT_SETTID: 0x100000,
  CHILD_CLEARTID: 0x200000,
} as const;

export interface CloneArgs {
  readonly flags: number;
  readonly exitSignal: number;
  /** Where the one-element set_tid array (u64 holding the pid) lies in the calling process. */
  readonly setTidAt: number;
  readonly stack?: number;
  readonly stackSize?: number;
  readonly tls?: bigint;
}

/** The 88 bytes of `struct clone_args` for `a`, set_tid_size 1. */
export function cloneArgs(a: CloneArgs): Buffer {
  const b = Buffer.alloc(CLONE_ARGS_SIZE);
  b.writeBigUInt64LE(BigInt(a.flags), 0);
  b.writeBigUInt64LE(BigInt(a.exitSignal), 32);
  b.writeBigUInt64LE(BigInt(a.stack ?? 0), 40);
  b.writeBigUInt64LE(BigInt(a.stackSize ?? 0), 48);
  b.writeBigUInt64LE(a.tls ?? 0n, 56);
  b.writeBigUInt64LE(BigInt(a.setTidAt), 64);
  b.writeBigUInt64LE(1n, 72);
  return b;
}

/** The set_tid array of one pid (a pid_t, padded to 8 bytes). */
export function setTidArray(pid: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32LE(pid, 0);
  return b;
}
