/** Errors of the proc/ layer. */

/**
 * A /proc file could not be read. `code`: `ESRCH` (no such process, or it exited), `EPERM` (not allowed),
 * `EPARSE` (unexpected content).
 */
export class ProcError extends Error {
  constructor(
    readonly code: 'ESRCH' | 'EPERM' | 'EPARSE',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProcError';
  }
}

/** Turn an fs error on /proc/PID/... into a ProcError (ENOENT/ESRCH -> ESRCH, EACCES/EPERM -> EPERM). */
export function procErrorFrom(e: unknown, pid: number, what: string): Error {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ESRCH')
    return new ProcError('ESRCH', `no such process: ${pid}`, { cause: e });
  if (code === 'EACCES' || code === 'EPERM') {
    return new ProcError('EPERM', `not permitted to read ${what} of process ${pid}`, { cause: e });
  }
  return e instanceof Error ? e : new Error(String(e));
}
