/**
 * RLIMIT_NOFILE of this process (getrlimit/setrlimit through prlimit(2)). A splice-mode pre-dump holds one
 * pipe per MiB of the target's memory until it is written out (4096 fds for 4 GiB), more than the usual
 * soft limit of 1024, so it raises the soft limit to the hard limit first, as CRIU does.
 *
 * @example
 * const { soft, hard } = raiseNofileLimit(); // soft === hard afterwards
 */
import koffi from 'koffi';
import { SysError } from './errors.js';

const RLIMIT_NOFILE = 7;

/** A soft and a hard limit (RLIM_INFINITY is reported as Number.MAX_SAFE_INTEGER). */
export interface ResourceLimit {
  readonly soft: number;
  readonly hard: number;
}

type Prlimit = (
  pid: number,
  resource: number,
  next: BigUint64Array | null,
  old: BigUint64Array | null,
) => number;

let prlimitFn: Prlimit | undefined;

function prlimit(): Prlimit {
  if (prlimitFn) return prlimitFn;
  const lib = koffi.load('libc.so.6');
  const f = lib.func('int prlimit(int pid, int resource, void *next, void *old)') as unknown as Prlimit;
  prlimitFn = f;
  return f;
}

const toNumber = (v: bigint) => (v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v));

/**
 * This process's RLIMIT_NOFILE.
 *
 * @example
 * nofileLimit().soft; // e.g. 1024
 */
export function nofileLimit(): ResourceLimit {
  const old = new BigUint64Array(2);
  if (prlimit()(0, RLIMIT_NOFILE, null, old) !== 0)
    throw new SysError('prlimit', koffi.errno(), 'get NOFILE');
  return { soft: toNumber(old[0]!), hard: toNumber(old[1]!) };
}

/**
 * Raise this process's RLIMIT_NOFILE soft limit to its hard limit (no privilege needed); returns the limit
 * now in force.
 *
 * @example
 * raiseNofileLimit().soft >= 1024; // true
 */
export function raiseNofileLimit(): ResourceLimit {
  const old = new BigUint64Array(2);
  const f = prlimit();
  if (f(0, RLIMIT_NOFILE, null, old) !== 0) throw new SysError('prlimit', koffi.errno(), 'get NOFILE');
  if (old[0] !== old[1]) {
    const next = BigUint64Array.of(old[1]!, old[1]!);
    if (f(0, RLIMIT_NOFILE, next, null) !== 0) throw new SysError('prlimit', koffi.errno(), 'set NOFILE');
  }
  return { soft: toNumber(old[1]!), hard: toNumber(old[1]!) };
}
