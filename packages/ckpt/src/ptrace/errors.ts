/**
 * Errors of the ptrace/ layer.
 *
 * `code`:
 * - `ESRCH`: the target (or the thread) is gone, or exited while we worked on it;
 * - `EPERM`: not permitted to trace it (kernel thread, ourselves, missing privileges);
 * - `EBUSY`: already traced by another process (see `tracerPid`), or already frozen by this process;
 * - `EINVAL`: bad argument (e.g. the pid of a thread that is not a thread-group leader);
 * - `EINJECT`: an injected system call returned an error (`errno` holds its errno name);
 * - `ESTATE`: the tracee is not in the state the request needs (e.g. injecting after thaw);
 * - `EUNEXPECTED`: the kernel reported a stop we do not know how to handle.
 *
 * @example
 * try { freeze(pid) } catch (e) { if (e instanceof PtraceError && e.code === 'EBUSY') console.error(e.message) }
 */
import { ExpectedError, SysError } from '../sys/index.js';

export type PtraceErrorCode = 'ESRCH' | 'EPERM' | 'EBUSY' | 'EINVAL' | 'EINJECT' | 'ESTATE' | 'EUNEXPECTED';

/** A ptrace operation failed (an expected failure: sys/error-kinds.ts). */
export class PtraceError extends ExpectedError {
  declare readonly code: PtraceErrorCode;
  /** For EINJECT: the errno name the injected call returned (`EBADF`, ...). For EBUSY: the tracer's pid. */
  readonly errno?: string;
  readonly tracerPid?: number;

  constructor(
    code: PtraceErrorCode,
    message: string,
    options?: { cause?: unknown; errno?: string; tracerPid?: number },
  ) {
    super(code, message, options);
    this.name = 'PtraceError';
    if (options?.errno !== undefined) this.errno = options.errno;
    if (options?.tracerPid !== undefined) this.tracerPid = options.tracerPid;
  }
}

/** Map a SysError from a ptrace/waitpid call on `pid` to a PtraceError (ESRCH and EPERM keep their code). */
export function ptraceErrorFrom(e: unknown, pid: number, what: string): Error {
  if (e instanceof PtraceError) return e;
  if (e instanceof SysError) {
    if (e.code === 'ESRCH' || e.code === 'ECHILD') {
      return new PtraceError('ESRCH', `process ${pid} is gone (${what})`, { cause: e });
    }
    if (e.code === 'EPERM') return new PtraceError('EPERM', `not permitted to ${what} ${pid}`, { cause: e });
    return new PtraceError('EUNEXPECTED', `${what} ${pid}: ${e.message}`, { cause: e });
  }
  return e instanceof Error ? e : new Error(String(e));
}
