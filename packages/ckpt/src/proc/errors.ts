/** Errors of the proc/ layer (expected failures: sys/error-kinds.ts). */
import { ExpectedError, isNodeSystemError } from '../sys/index.js';

/**
 * A /proc file could not be read. `code`: `ESRCH` (no such process, or it exited), `EPERM` (not allowed),
 * `EPARSE` (unexpected content).
 */
export class ProcError extends ExpectedError {
  declare readonly code: 'ESRCH' | 'EPERM' | 'EPARSE' | 'EIO';

  constructor(code: 'ESRCH' | 'EPERM' | 'EPARSE' | 'EIO', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ProcError';
  }
}

/**
 * Turn an fs error on /proc/PID/... into a ProcError (ENOENT/ESRCH -> ESRCH, EACCES/EPERM -> EPERM, any
 * other system error -> EIO naming the file); anything else (a bug) is returned unchanged.
 */
export function procErrorFrom(e: unknown, pid: number, what: string): Error {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ESRCH')
    return new ProcError('ESRCH', `no such process: ${pid}`, { cause: e });
  if (code === 'EACCES' || code === 'EPERM') {
    return new ProcError('EPERM', `not permitted to read ${what} of process ${pid}`, { cause: e });
  }
  if (isNodeSystemError(e)) {
    return new ProcError('EIO', `reading ${what} of process ${pid}: ${e.code}`, { cause: e });
  }
  return e instanceof Error ? e : new Error(String(e));
}
