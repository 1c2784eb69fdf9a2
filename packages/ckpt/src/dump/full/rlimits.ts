/**
 * The resource limits of a process, from /proc/PID/limits: readable for a process of any uid, where
 * prlimit64 on a process whose real, effective or saved ids differ from the caller's needs
 * CAP_SYS_RESOURCE (which a container may lack, root or not).
 *
 * ```
 * Limit                     Soft Limit           Hard Limit           Units
 * Max cpu time              unlimited            unlimited            seconds     <- RLIMIT_CPU (0)
 * ...                                                                              (the kernel's order)
 * Max realtime timeout      unlimited            unlimited            us          <- RLIMIT_RTTIME (15)
 * name: 25 columns and a space; "unlimited" is RLIM_INFINITY (2^64 - 1); the numbers exact (%lu)
 * ```
 *
 * @example
 * readRlimits(pid)[7]; // RLIMIT_NOFILE: { cur: 1024n, max: 524288n }
 */
import { readProcFile } from '../../proc/index.js';
import { RLIM_NLIMITS } from '../../sys/index.js';
import { DumpError } from '../errors.js';

const RLIM_INFINITY = 2n ** 64n - 1n;
const NAME_WIDTH = 26;

const limit = (s: string | undefined) => (s === 'unlimited' ? RLIM_INFINITY : BigInt(s ?? ''));

/** The 16 limits of process `pid` (RLIMIT_CPU .. RLIMIT_RTTIME). Throws ProcError, DumpError EIO. */
export function readRlimits(pid: number): { cur: bigint; max: bigint }[] {
  const rows = readProcFile(pid, 'limits')
    .split('\n')
    .slice(1, 1 + RLIM_NLIMITS);
  try {
    if (rows.length !== RLIM_NLIMITS) throw new Error(`${rows.length} rows`);
    return rows.map((row) => {
      const [soft, hard] = row.slice(NAME_WIDTH).trim().split(/\s+/);
      return { cur: limit(soft), max: limit(hard) };
    });
  } catch (e) {
    throw new DumpError('EIO', `/proc/${pid}/limits: not the kernel's table (${(e as Error).message})`);
  }
}
