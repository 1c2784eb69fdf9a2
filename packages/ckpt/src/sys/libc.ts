/**
 * The raw libc entry points, loaded once through koffi. Everything here is synchronous: ptrace requests
 * must come from the thread that attached (the main thread), so no `.async` variants are used.
 *
 * glibc's `ptrace`, `syscall` and `ioctl` are variadic; declaring them with fixed parameters works on
 * x86-64 (arguments travel in registers). `ptrace` is declared twice: with an integer `data` and with a
 * pointer `data` (for GETREGS/SETREGS).
 *
 * Only sys/ imports this file; the rest of ckpt uses the checked wrappers in syscalls.ts.
 */
import koffi from 'koffi';

type Ptr = Uint8Array | Int32Array | Uint32Array | BigUint64Array | null;

interface Libc {
  process_vm_readv(
    pid: number,
    local: Ptr,
    liovcnt: number,
    remote: Ptr,
    riovcnt: number,
    flags: number,
  ): number;
  process_vm_writev(
    pid: number,
    local: Ptr,
    liovcnt: number,
    remote: Ptr,
    riovcnt: number,
    flags: number,
  ): number;
  ptrace(req: number, pid: number, addr: number, data: number): number;
  ptraceP(req: number, pid: number, addr: number, data: Ptr): number;
  waitpid(pid: number, status: Int32Array, options: number): number;
  syscall(nr: number, a1: number, a2: number, a3: number, a4: number, a5: number, a6: number): number;
  ioctl(fd: number, req: number, arg: Ptr): number;
  ioctlN(fd: number, req: number, arg: number): number;
  close(fd: number): number;
  kill(pid: number, sig: number): number;
  getpid(): number;
  prctl(option: number, arg2: number): number;
  /** glibc's malloc tuning (M_ARENA_MAX is -8); 1 on success. */
  mallopt(param: number, value: number): number;
  errno(): number;
  address(buf: Uint8Array | Uint32Array): number;
}

let loaded: Libc | undefined;

/** Load libc once; throws a plain Error if koffi cannot load (reported by the caller). */
export function libc(): Libc {
  if (loaded) return loaded;
  const lib = koffi.load('libc.so.6');
  const f = (decl: string) => lib.func(decl) as unknown as (...args: unknown[]) => number;
  const pvr = f(
    'intptr_t process_vm_readv(int pid, void *local_iov, unsigned long liovcnt, void *remote_iov, unsigned long riovcnt, unsigned long flags)',
  );
  const pvw = f(
    'intptr_t process_vm_writev(int pid, void *local_iov, unsigned long liovcnt, void *remote_iov, unsigned long riovcnt, unsigned long flags)',
  );
  const ptrace = f('long ptrace(long req, int pid, uintptr_t addr, uintptr_t data)');
  const ptraceP = lib.func('ptrace', 'long', ['long', 'int', 'uintptr_t', 'void *']) as unknown as (
    ...a: unknown[]
  ) => number;
  const waitpid = f('int waitpid(int pid, int *status, int options)');
  const syscall = f('long syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)');
  const ioctl = f('int ioctl(int fd, unsigned long req, void *arg)');
  const ioctlN = lib.func('ioctl', 'int', ['int', 'unsigned long', 'uintptr_t']) as unknown as (
    ...a: unknown[]
  ) => number;
  const close = f('int close(int fd)');
  const kill = f('int kill(int pid, int sig)');
  const getpid = f('int getpid()');
  const prctl = f(
    'int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)',
  );
  const mallopt = f('int mallopt(int param, int value)');
  loaded = {
    process_vm_readv: (pid, l, ln, r, rn, fl) => Number(pvr(pid, l, ln, r, rn, fl)),
    process_vm_writev: (pid, l, ln, r, rn, fl) => Number(pvw(pid, l, ln, r, rn, fl)),
    ptrace: (req, pid, addr, data) => Number(ptrace(req, pid, addr, data)),
    ptraceP: (req, pid, addr, data) => Number(ptraceP(req, pid, addr, data)),
    waitpid: (pid, st, opt) => waitpid(pid, st, opt),
    syscall: (nr, a1, a2, a3, a4, a5, a6) => Number(syscall(nr, a1, a2, a3, a4, a5, a6)),
    ioctl: (fd, req, arg) => ioctl(fd, req, arg),
    ioctlN: (fd, req, arg) => ioctlN(fd, req, arg),
    close: (fd) => close(fd),
    kill: (pid, sig) => kill(pid, sig),
    getpid: () => getpid(),
    prctl: (option, arg2) => prctl(option, arg2, 0, 0, 0),
    mallopt: (param, value) => mallopt(param, value),
    errno: () => koffi.errno(),
    address: (buf) => Number(koffi.address(buf)),
  };
  return loaded;
}
