/**
 * Errors of the sys/ layer: a failed system call, carrying the errno name as its code.
 *
 * @example
 * try { processVmReadv(...) } catch (e) { if (e instanceof SysError && e.code === 'ESRCH') ... }
 */

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
  95: 'EOPNOTSUPP',
};

/** Symbolic name of an errno value (`ESRCH` for 3); `E<n>` for values we do not name. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** A system call failed. `code` is the errno name (`ESRCH`, `EPERM`, ...), `errno` the number. */
export class SysError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;

  constructor(syscall: string, errno: number, detail?: string) {
    const name = errnoName(errno);
    super(`${syscall}${detail ? ` (${detail})` : ''}: ${name}`);
    this.name = 'SysError';
    this.code = name;
    this.errno = errno;
    this.syscall = syscall;
  }
}

/** The running kernel lacks something we need (`code` = `ENOTSUP_KERNEL`). */
export class KernelUnsupportedError extends Error {
  readonly code = 'ENOTSUP_KERNEL';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KernelUnsupportedError';
  }
}
