/**
 * Errors of the restore/ layer. `code`: `EBUSY` (a pid the images need is taken: the message names it and
 * its holder), `ENOENT` (an image or a file the process had open is missing), `CORRUPT_IMAGE` (an image
 * does not decode or contradicts itself), `ENOTSUP` (state this build cannot restore yet, or a kernel
 * whose vdso differs from the dump's), `EPERM`, `EIO` (a call into the process being built failed: the
 * message names the call).
 *
 * RestoreError is an expected failure; anything else reaching a caller is a bug (sys/error-kinds.ts).
 *
 * @example
 * catch (e) { if (e instanceof RestoreError && e.code === 'EBUSY') console.error(e.message) }
 */
import { ImageError } from '../images/index.js';
import { PtraceError } from '../ptrace/index.js';
import { CancelledError, ExpectedError, isNodeSystemError, SysError } from '../sys/index.js';

export type RestoreErrorCode = 'EBUSY' | 'ENOENT' | 'CORRUPT_IMAGE' | 'ENOTSUP' | 'EPERM' | 'EIO';

/** A restore cannot be done (an expected failure). */
export class RestoreError extends ExpectedError {
  declare readonly code: RestoreErrorCode;

  constructor(code: RestoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'RestoreError';
  }
}

/**
 * An error from a lower layer as a RestoreError when it is an expected failure; CancelledError and bugs
 * are returned unchanged.
 *
 * @example
 * catch (e) { throw restoreErrorFrom(e) }
 */
export function restoreErrorFrom(e: unknown): unknown {
  if (e instanceof RestoreError || e instanceof CancelledError) return e;
  if (e instanceof ImageError) {
    const code = e.code === 'CORRUPT_IMAGE' || e.code === 'BAD_MAGIC' ? 'CORRUPT_IMAGE' : 'EIO';
    return new RestoreError(code, e.message, { cause: e });
  }
  if (e instanceof PtraceError || e instanceof SysError) {
    const code = e.code === 'EPERM' || e.code === 'EACCES' ? 'EPERM' : 'EIO';
    return new RestoreError(code, e.message, { cause: e });
  }
  if (isNodeSystemError(e)) {
    const path = typeof e.path === 'string' ? ` ${e.path}` : '';
    const code = e.code === 'ENOENT' ? 'ENOENT' : 'EIO';
    return new RestoreError(code, `${e.syscall}${path}: ${e.code}`, { cause: e });
  }
  if (e instanceof ExpectedError) return new RestoreError('EIO', e.message, { cause: e });
  return e;
}
