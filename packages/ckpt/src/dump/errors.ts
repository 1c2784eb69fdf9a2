/**
 * Errors of the dump/ layer. `code`: `ESRCH` (no such process, or it exited during the dump), `EPERM`
 * (not allowed), `EBUSY` (already traced, with --freeze), `ENOTSUP_KERNEL`, `ENOTSUP` (an option this build cannot honour yet), `EIO` (reading the
 * target or writing images failed), `EINVAL` (bad options), `ECANCELED` (the caller's AbortSignal fired).
 *
 * @example
 * catch (e) { if (e instanceof DumpError && e.code === 'ESRCH') console.error(e.message) }
 */
import { MemError } from '../mem/index.js';
import { ProcError } from '../proc/index.js';
import { PtraceError } from '../ptrace/index.js';

/** The codes a DumpError carries. */
export type DumpErrorCode =
  | 'ESRCH'
  | 'EPERM'
  | 'EBUSY'
  | 'ENOTSUP_KERNEL'
  | 'ENOTSUP'
  | 'EIO'
  | 'EINVAL'
  | 'ECANCELED';

export class DumpError extends Error {
  constructor(
    readonly code: DumpErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DumpError';
  }
}

/**
 * An error from a lower layer as a DumpError when it is an expected failure (target gone, not permitted);
 * anything else is returned unchanged.
 *
 * @example
 * catch (e) { throw dumpErrorFrom(e, pid) }
 */
export function dumpErrorFrom(e: unknown, pid: number): unknown {
  if (e instanceof DumpError) return e;
  if (e instanceof MemError || e instanceof ProcError) {
    if (e.code === 'ESRCH') return new DumpError('ESRCH', `no such process: ${pid}`, { cause: e });
    if (e.code === 'EPERM') return new DumpError('EPERM', e.message, { cause: e });
    if (e.code === 'ECANCELED') return new DumpError('ECANCELED', 'cancelled', { cause: e });
    if (e.code === 'ENOTSUP_KERNEL') return new DumpError('ENOTSUP_KERNEL', e.message, { cause: e });
    return new DumpError('EIO', e.message, { cause: e });
  }
  if (e instanceof PtraceError) {
    if (e.code === 'ESRCH') return new DumpError('ESRCH', `no such process: ${pid}`, { cause: e });
    if (e.code === 'EPERM' || e.code === 'EBUSY' || e.code === 'EINVAL') {
      return new DumpError(e.code, e.message, { cause: e });
    }
  }
  return e;
}
