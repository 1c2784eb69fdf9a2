/**
 * Checked system calls: each returns its result or throws a SysError with the errno name as code.
 * All calls are synchronous and run on the calling (main) thread.
 *
 * @example
 * const n = processVmReadv(pid, local, 1, remote, remote.length); // bytes read, may be short
 */
import { PTRACE, SYS } from './constants.js';
import { SysError } from './errors.js';
import type { IovecArray } from './iovec.js';
import { libc } from './libc.js';

type Bytes = Uint8Array | Int32Array | Uint32Array | BigUint64Array;

function check(name: string, r: number, detail?: string): number {
  if (r < 0) throw new SysError(name, libc().errno(), detail);
  return r;
}

/**
 * process_vm_readv(2): read remote iovecs into local iovecs. Returns the bytes read, which is short when a
 * remote iovec faults after the first (the kernel stops at the first bad iovec without an error).
 * Throws SysError (EFAULT when the first remote iovec cannot be read, ESRCH when the target is gone).
 */
export function processVmReadv(pid: number, local: IovecArray, remote: IovecArray): number {
  return check(
    'process_vm_readv',
    libc().process_vm_readv(pid, local.buf, local.length, remote.buf, remote.length, 0),
    `pid ${pid}`,
  );
}

/** process_vm_writev(2), the mirror of processVmReadv. */
export function processVmWritev(pid: number, local: IovecArray, remote: IovecArray): number {
  return check(
    'process_vm_writev',
    libc().process_vm_writev(pid, local.buf, local.length, remote.buf, remote.length, 0),
    `pid ${pid}`,
  );
}

/** ptrace(2) with an integer data argument. PEEK requests are not supported here (their result is data). */
export function ptrace(req: number, pid: number, addr = 0, data = 0): number {
  return check('ptrace', libc().ptrace(req, pid, addr, data), `req 0x${req.toString(16)} tid ${pid}`);
}

/** ptrace(2) with a buffer as data (GETREGS, SETREGS). */
export function ptraceBuf(req: number, pid: number, data: Bytes, addr = 0): number {
  return check('ptrace', libc().ptraceP(req, pid, addr, data), `req 0x${req.toString(16)} tid ${pid}`);
}

/** PTRACE_GETREGS into a 216-byte buffer (struct user_regs_struct). */
export function getRegs(tid: number, regs: Uint8Array): void {
  ptraceBuf(PTRACE.GETREGS, tid, regs);
}

/** PTRACE_SETREGS from a 216-byte buffer. */
export function setRegs(tid: number, regs: Uint8Array): void {
  ptraceBuf(PTRACE.SETREGS, tid, regs);
}

const statusCell = new Int32Array(1);

/** waitpid(2). Returns `{ pid, status }`; pid 0 with WNOHANG when nothing is ready. EINTR is retried. */
export function waitpid(pid: number, options: number): { pid: number; status: number } {
  for (;;) {
    const r = libc().waitpid(pid, statusCell, options);
    if (r >= 0) return { pid: r, status: statusCell[0]! };
    const e = libc().errno();
    if (e !== 4) throw new SysError('waitpid', e, `pid ${pid}`);
  }
}

/** Raw syscall(2) with up to 6 integer arguments. */
export function syscall(nr: number, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0): number {
  return check(`syscall ${nr}`, libc().syscall(nr, a1, a2, a3, a4, a5, a6));
}

/** pidfd_open(2): a file descriptor that refers to the process. */
export function pidfdOpen(pid: number): number {
  return check('pidfd_open', libc().syscall(SYS.pidfd_open, pid, 0, 0, 0, 0, 0), `pid ${pid}`);
}

/** pidfd_getfd(2): a duplicate, in this process, of file descriptor `targetFd` of the pidfd's process. */
export function pidfdGetfd(pidfd: number, targetFd: number): number {
  return check('pidfd_getfd', libc().syscall(SYS.pidfd_getfd, pidfd, targetFd, 0, 0, 0, 0), `fd ${targetFd}`);
}

/** ioctl(2) with a pointer argument. */
export function ioctl(fd: number, req: number, arg: Bytes | null): number {
  return check('ioctl', libc().ioctl(fd, req, arg), `req 0x${req.toString(16)}`);
}

/** ioctl(2) with an integer argument. */
export function ioctlInt(fd: number, req: number, arg: number): number {
  return check('ioctl', libc().ioctlN(fd, req, arg), `req 0x${req.toString(16)}`);
}

/** close(2) of a raw descriptor that Node's fs does not own. */
export function closeFd(fd: number): void {
  check('close', libc().close(fd), `fd ${fd}`);
}

/** kill(2); signal 0 probes for existence. */
export function kill(pid: number, sig: number): void {
  check('kill', libc().kill(pid, sig), `pid ${pid}`);
}

/** prctl(2) with one argument (e.g. PR_SET_CHILD_SUBREAPER = 36). */
export function prctl(option: number, arg2: number): number {
  return check('prctl', libc().prctl(option, arg2), `option ${option}`);
}

/**
 * glibc's mallopt(M_ARENA_MAX, n): at most `n` malloc arenas for this process from now on (threads share
 * them). False where glibc refuses it.
 *
 * @example
 * limitMallocArenas(1); // ckpt pre-dump --iterations: V8's compile threads reuse the main arena
 */
export function limitMallocArenas(n: number): boolean {
  return libc().mallopt(-8 /* M_ARENA_MAX */, n) === 1;
}

/** Address of a buffer's first byte in this process (for iovecs pointing at our own memory). */
export function addressOf(buf: Uint8Array | Uint32Array): number {
  return libc().address(buf);
}

/** Wait-status decoding, as the C macros. */
export const WStatus = {
  exited: (s: number) => (s & 0x7f) === 0,
  exitCode: (s: number) => (s >> 8) & 0xff,
  signaled: (s: number) => ((s & 0x7f) + 1) >> 1 > 0 && (s & 0x7f) !== 0x7f && (s & 0x7f) !== 0,
  termSig: (s: number) => s & 0x7f,
  stopped: (s: number) => (s & 0xff) === 0x7f,
  stopSig: (s: number) => (s >> 8) & 0xff,
  /** ptrace event in the high bits of a stop status (PTRACE_EVENT_STOP = 128 for an interrupt stop). */
  event: (s: number) => (s >> 16) & 0xffff,
};
