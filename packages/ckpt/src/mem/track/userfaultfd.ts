/**
 * Our handle on a userfaultfd: the ioctls the uffd-wp tracker issues on its copy of the target's fd
 * (UFFDIO_API once per fd, UFFDIO_REGISTER per range), and the probe for async write-protect support.
 * A userfaultfd is bound to the mm of the process that created it: ioctls on our copy act on the target.
 *
 * @example
 * using u = new Userfaultfd(pidfdGetfd(pidfd, targetFd));
 * u.enableAsyncWp();
 * u.register(start, end - start);
 */
import { closeFd, ioctl, KernelUnsupportedError, O, SYS, SysError, syscall, UFFD } from '../../sys/index.js';

/** Features we ask for: async write-protect faults, and markers for never-populated pages. */
export const UFFD_WP_FEATURES = UFFD.FEATURE_WP_ASYNC | UFFD.FEATURE_WP_UNPOPULATED;

/** Flags of the injected `userfaultfd()`: USER_MODE_ONLY works even with vm.unprivileged_userfaultfd=0. */
export const UFFD_OPEN_FLAGS = O.CLOEXEC | O.NONBLOCK | UFFD.USER_MODE_ONLY;

export class Userfaultfd implements Disposable {
  private fdValue: number;
  private readonly api = new BigUint64Array(3);
  private readonly reg = new BigUint64Array(4);

  constructor(fd: number) {
    this.fdValue = fd;
  }

  get fd(): number {
    return this.fdValue;
  }

  /** UFFDIO_API with WP_ASYNC|WP_UNPOPULATED (once per fd). Throws KernelUnsupportedError if missing. */
  enableAsyncWp(): void {
    this.api[0] = BigInt(UFFD.API);
    this.api[1] = BigInt(UFFD_WP_FEATURES);
    this.api[2] = 0n;
    try {
      ioctl(this.fdValue, UFFD.UFFDIO_API, this.api);
    } catch (e) {
      throw new KernelUnsupportedError(
        'userfaultfd async write-protect (UFFD_FEATURE_WP_ASYNC, Linux 6.7+)',
        {
          cause: e,
        },
      );
    }
    if ((this.api[1]! & BigInt(UFFD_WP_FEATURES)) !== BigInt(UFFD_WP_FEATURES)) {
      throw new KernelUnsupportedError('userfaultfd without WP_ASYNC/WP_UNPOPULATED');
    }
  }

  /** UFFDIO_REGISTER(MODE_WP) of [start, start+len). Throws SysError (EINVAL, ENOMEM, EBUSY, ...). */
  register(start: number, len: number): void {
    this.reg[0] = BigInt(start);
    this.reg[1] = BigInt(len);
    this.reg[2] = BigInt(UFFD.REGISTER_MODE_WP);
    this.reg[3] = 0n;
    ioctl(this.fdValue, UFFD.UFFDIO_REGISTER, this.reg);
  }

  /**
   * UFFDIO_UNREGISTER of [start, start+len) (parts not registered are skipped). For write-protect mode the
   * kernel clears the range's write-protection in the same call, holding the mm's lock for writing.
   */
  unregister(start: number, len: number): void {
    this.reg[0] = BigInt(start);
    this.reg[1] = BigInt(len);
    ioctl(this.fdValue, UFFD.UFFDIO_UNREGISTER, this.reg);
  }

  /** Close our descriptor. Safe to call twice. */
  close(): void {
    if (this.fdValue >= 0) {
      closeFd(this.fdValue);
      this.fdValue = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Whether this kernel has what the uffd-wp tracker needs, tried on a userfaultfd of our own.
 * Returns null if supported, else the reason.
 */
export function uffdWpUnsupportedReason(): string | null {
  let fd: number;
  try {
    fd = syscall(SYS.userfaultfd, UFFD_OPEN_FLAGS);
  } catch (e) {
    return `userfaultfd() failed: ${e instanceof SysError ? e.code : String(e)}`;
  }
  const u = new Userfaultfd(fd);
  try {
    u.enableAsyncWp();
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    u.close();
  }
}
