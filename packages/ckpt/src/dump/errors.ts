/**
 * Errors of the dump/ layer. `code`: `ESRCH` (no such process, or it exited during the dump), `EPERM`
 * (not allowed), `EBUSY` (already traced, with --freeze), `ENOTSUP_KERNEL`, `ENOTSUP` (an option this build
 * cannot honour yet), `EIO` (reading the target, writing images or talking to the page server failed: the
 * message names the path or the peer), `EINVAL` (bad options).
 *
 * DumpError is an expected failure; cancellation (the caller's AbortSignal) is sys/'s `CancelledError`, and
 * anything else that reaches a caller is a bug (sys/error-kinds.ts).
 *
 * @example
 * catch (e) { if (e instanceof DumpError && e.code === 'ESRCH') console.error(e.message) }
 */
import { ImageError } from '../images/index.js';
import { MemError } from '../mem/index.js';
import { ProcError } from '../proc/index.js';
import { PtraceError } from '../ptrace/index.js';
import {
  CancelledError,
  ExpectedError,
  isNodeSystemError,
  KernelUnsupportedError,
  SysError,
} from '../sys/index.js';
import { WireError } from '../xfer/index.js';

/** The codes a DumpError carries. */
export type DumpErrorCode = 'ESRCH' | 'EPERM' | 'EBUSY' | 'ENOTSUP_KERNEL' | 'ENOTSUP' | 'EIO' | 'EINVAL';

/** A dump cannot be done (an expected failure). */
export class DumpError extends ExpectedError {
  declare readonly code: DumpErrorCode;

  constructor(code: DumpErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'DumpError';
  }
}

/**
 * An error from a lower layer as a DumpError when it is an expected failure: the target gone, not
 * permitted, a missing kernel feature, an image or the file system failing (a full disk), the page server
 * failing or dropping the connection, a system error of a call made here. A CancelledError and anything
 * else (bugs) are returned unchanged.
 *
 * @example
 * catch (e) { throw dumpErrorFrom(e, pid) }
 */
export function dumpErrorFrom(e: unknown, pid: number): unknown {
  if (e instanceof DumpError || e instanceof CancelledError) return e;
  if (e instanceof MemError || e instanceof ProcError) {
    if (e.code === 'ESRCH') return new DumpError('ESRCH', `no such process: ${pid}`, { cause: e });
    if (e.code === 'EPERM') return new DumpError('EPERM', e.message, { cause: e });
    if (e.code === 'ENOTSUP_KERNEL') return new DumpError('ENOTSUP_KERNEL', e.message, { cause: e });
    return new DumpError('EIO', e.message, { cause: e });
  }
  if (e instanceof PtraceError) {
    if (e.code === 'ESRCH') return new DumpError('ESRCH', `no such process: ${pid}`, { cause: e });
    if (e.code === 'EPERM' || e.code === 'EBUSY' || e.code === 'EINVAL') {
      return new DumpError(e.code, e.message, { cause: e });
    }
    return new DumpError('EIO', e.message, { cause: e });
  }
  if (e instanceof KernelUnsupportedError) return new DumpError('ENOTSUP_KERNEL', e.message, { cause: e });
  if (e instanceof SysError) {
    if (e.code === 'ESRCH') return new DumpError('ESRCH', `no such process: ${pid}`, { cause: e });
    if (e.code === 'EPERM' || e.code === 'EACCES') return new DumpError('EPERM', e.message, { cause: e });
    return new DumpError('EIO', e.message, { cause: e });
  }
  if (e instanceof ImageError || e instanceof WireError || e instanceof ExpectedError) {
    return new DumpError('EIO', e.message, { cause: e });
  }
  if (isNodeSystemError(e)) {
    const path = typeof e.path === 'string' ? ` ${e.path}` : '';
    return new DumpError('EIO', `${e.syscall}${path}: ${e.code} (dumping process ${pid})`, { cause: e });
  }
  return e;
}
