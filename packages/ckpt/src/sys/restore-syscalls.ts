/**
 * System call numbers (x86-64) a restore injects into the process it rebuilds, beyond sys/constants.ts's
 * SYS, and the flags they take.
 *
 * @example
 * task.call('mremap', RSYS.mremap, from, len, len, MREMAP.MAYMOVE | MREMAP.FIXED, to);
 */
export const RSYS = {
  lseek: 8,
  rt_sigaction: 13,
  mremap: 25,
  madvise: 28,
  dup2: 33,
  fcntl: 72,
  chdir: 80,
  umask: 95,
  setsid: 112,
  setpgid: 109,
  sigaltstack: 131,
  prctl: 157,
  chroot: 161,
  set_tid_address: 218,
  set_robust_list: 273,
  openat: 257,
  pipe2: 293,
  eventfd2: 290,
  epoll_create1: 291,
  epoll_ctl: 233,
  socket: 41,
  connect: 42,
  bind: 49,
  listen: 50,
  setsockopt: 54,
  socketpair: 53,
  ioctl: 16,
  timerfd_create: 283,
  timerfd_settime: 286,
  signalfd4: 289,
  shutdown: 48,
  rseq: 334,
  prlimit64: 302,
  close: 3,
  write: 1,
  mmap: 9,
  mprotect: 10,
  munmap: 11,
  setitimer: 38,
  personality: 135,
  setresuid: 117,
  setresgid: 119,
  setfsuid: 122,
  setfsgid: 123,
  setgroups: 116,
  capset: 126,
  rt_sigqueueinfo: 129,
  rt_tgsigqueueinfo: 297,
} as const;

export const MREMAP = { MAYMOVE: 1, FIXED: 2 } as const;
export const MAP = {
  SHARED: 0x1,
  PRIVATE: 0x2,
  FIXED: 0x10,
  ANONYMOUS: 0x20,
  GROWSDOWN: 0x100,
  NORESERVE: 0x4000,
  FIXED_NOREPLACE: 0x100000,
} as const;
export const PROT = { READ: 1, WRITE: 2, EXEC: 4 } as const;
/** AT_FDCWD for openat. */
export const AT_FDCWD = -100;
/** prctl options a restore uses. */
export const PR = {
  SET_PDEATHSIG: 1,
  SET_DUMPABLE: 4,
  SET_NAME: 15,
  CAPBSET_DROP: 24,
  GET_SECUREBITS: 27,
  SET_SECUREBITS: 28,
  SET_CHILD_SUBREAPER: 36,
  SET_NO_NEW_PRIVS: 38,
  CAP_AMBIENT: 47,
} as const;
/** rseq(2) flag. */
export const RSEQ_FLAG_UNREGISTER = 1;
