/**
 * `struct prctl_mm_map` of prctl(PR_SET_MM, PR_SET_MM_MAP): the mm fields, auxv and exe of a process set
 * in one call (needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE; the old executable must be unmapped first,
 * or the kernel answers EBUSY to the exe change).
 *
 * ```
 * off   0 start_code  8 end_code  16 start_data  24 end_data  32 start_brk  40 brk  48 start_stack
 *      56 arg_start  64 arg_end  72 env_start   80 env_end   88 auxv (ptr) 96 auxv_size (u32)
 *     100 exe_fd (u32)                                                      104 bytes
 * ```
 *
 * @example
 * const map = prctlMmMap({ ...fields, auxv: addr, auxvSize: 8 * n, exeFd: 3 });
 */

export const PR_SET_MM = 35;
export const PR_SET_MM_MAP = 14;
export const PRCTL_MM_MAP_SIZE = 104;

export interface MmMapFields {
  readonly startCode: bigint;
  readonly endCode: bigint;
  readonly startData: bigint;
  readonly endData: bigint;
  readonly startBrk: bigint;
  readonly brk: bigint;
  readonly startStack: bigint;
  readonly argStart: bigint;
  readonly argEnd: bigint;
  readonly envStart: bigint;
  readonly envEnd: bigint;
  /** Address of the auxv words in the target. */
  readonly auxv: number;
  readonly auxvSize: number;
  /** An fd of the target on its executable, or -1 to leave the exe link. */
  readonly exeFd: number;
}

/** The 104 bytes of `struct prctl_mm_map`. */
export function prctlMmMap(f: MmMapFields): Buffer {
  const b = Buffer.alloc(PRCTL_MM_MAP_SIZE);
  const words = [
    f.startCode,
    f.endCode,
    f.startData,
    f.endData,
    f.startBrk,
    f.brk,
    f.startStack,
    f.argStart,
    f.argEnd,
    f.envStart,
    f.envEnd,
    BigInt(f.auxv),
  ];
  for (const [i, w] of words.entries()) b.writeBigUInt64LE(w, i * 8);
  b.writeUInt32LE(f.auxvSize, 96);
  b.writeInt32LE(f.exeFd, 100);
  return b;
}
