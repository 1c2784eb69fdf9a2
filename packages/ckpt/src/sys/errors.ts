/**
 * Errors of the sys/ layer: a failed system call, carrying the errno name as its code. Both classes are
 * expected failures (see error-kinds.ts); `SysError.fromNode` wraps one of Node's system errors (fs, net)
 * with the path or peer it concerned.
 *
 * @example
 * try { processVmReadv(...) } catch (e) { if (e instanceof SysError && e.code === 'ESRCH') ... }
 */

import { ExpectedError, isNodeSystemError } from './error-kinds.js';

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  3: 'ESRCH',
  4: 'EINTR',
  5: 'EIO',
  9: 'EBADF',
  10: 'ECHILD',
  11: 'EAGAIN',
  12: 'ENOMEM',
  13: 'EACCES',
  14: 'EFAULT',
  16: 'EBUSY',
  17: 'EEXIST',
  22: 'EINVAL',
  24: 'EMFILE',
  25: 'ENOTTY',
  28: 'ENOSPC',
  32: 'EPIPE',
  38: 'ENOSYS',
  36: 'ENAMETOOLONG',
  40: 'ELOOP',
  88: 'ENOTSOCK',
  95: 'EOPNOTSUPP',
  97: 'EAFNOSUPPORT',
  98: 'EADDRINUSE',
  99: 'EADDRNOTAVAIL',
  104: 'ECONNRESET',
  110: 'ETIMEDOUT',
  111: 'ECONNREFUSED',
};

/** Symbolic name of an errno value (`ESRCH` for 3); `E<n>` for values we do not name. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** A system call failed. `code` is the errno name (`ESRCH`, `EPERM`, ...), `errno` the number. */
export class SysError extends ExpectedError {
  readonly errno: number;
  readonly syscall: string;

  constructor(
    syscall: string,
    errno: number,
    detail?: string,
    options?: { cause?: unknown; code?: string; message?: string },
  ) {
    const name = options?.code ?? errnoName(errno);
    super(name, options?.message ?? `${syscall}${detail ? ` (${detail})` : ''}: ${name}`, options);
    this.name = 'SysError';
    this.errno = errno;
    this.syscall = syscall;
  }

  /**
   * One of Node's system errors (fs, net: it has `syscall` and `errno`) as a SysError whose message names
   * `what` (the path or the peer): `write /ckpt/1/pages-1.img: ENOSPC (no space left on device)`. Anything
   * else is returned unchanged.
   *
   * @example
   * try { writeSync(fd, buf) } catch (e) { throw SysError.fromNode(e, `write ${path}`) }
   */
  static fromNode(e: unknown, what: string): unknown {
    if (!isNodeSystemError(e)) return e;
    const text = /^[A-Z0-9_]+: ([^,]+)/.exec(e.message)?.[1];
    return new SysError(e.syscall, Math.abs(e.errno ?? 0), undefined, {
      cause: e,
      code: e.code,
      message: `${what}: ${e.code}${text ? ` (${text})` : ''}`,
    });
  }
}

/** The running kernel lacks something we need (`code` = `ENOTSUP_KERNEL`). */
export class KernelUnsupportedError extends ExpectedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ENOTSUP_KERNEL', message, options);
    this.name = 'KernelUnsupportedError';
  }
}
