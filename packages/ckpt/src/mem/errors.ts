/**
 * Errors of the mem/ layer. `code`: `ESRCH` (the target exited), `EPERM` (not allowed to read its memory),
 * `ENOTSUP_KERNEL` (a kernel feature is missing), `EIO` (any other failure reading the target). MemError is an
 * expected failure; the caller's AbortSignal firing gives sys/'s `CancelledError` (sys/error-kinds.ts).
 *
 * @example
 * try { await reader.read(ranges, sink) } catch (e) { if (e instanceof MemError && e.code === 'ESRCH') ... }
 */

import { ProcError } from '../proc/index.js';
import { CancelledError, ExpectedError, KernelUnsupportedError, SysError } from '../sys/index.js';

/** The codes a MemError carries. */
export type MemErrorCode = 'ESRCH' | 'EPERM' | 'ENOTSUP_KERNEL' | 'EIO';

/** Reading or tracking the target's memory failed. */
export class MemError extends ExpectedError {
  declare readonly code: MemErrorCode;

  constructor(code: MemErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'MemError';
  }
}

/**
 * Turn an error from sys/ or proc/ met while working on process `pid` into a MemError (a CancelledError and
 * other errors pass through unchanged: the latter are bugs).
 *
 * @example
 * catch (e) { throw memErrorFrom(e, pid, 'reading memory') }
 */
export function memErrorFrom(e: unknown, pid: number, doing: string): unknown {
  if (e instanceof MemError || e instanceof CancelledError) return e;
  const code = e instanceof SysError || e instanceof ProcError ? e.code : undefined;
  if (code === 'ESRCH') return new MemError('ESRCH', `process ${pid} exited while ${doing}`, { cause: e });
  if (code === 'EPERM' || code === 'EACCES') {
    return new MemError('EPERM', `not permitted to read the memory of process ${pid} (${doing})`, {
      cause: e,
    });
  }
  if (e instanceof KernelUnsupportedError) return new MemError('ENOTSUP_KERNEL', e.message, { cause: e });
  if (e instanceof SysError) return new MemError('EIO', `${doing}: ${e.message}`, { cause: e });
  return e;
}
