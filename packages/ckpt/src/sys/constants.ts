/**
 * Kernel constants for x86-64 (Linux 6.18 here). The system headers on this machine are 6.1, so the
 * PAGEMAP_SCAN and userfaultfd WP_ASYNC values are defined here by hand (checked against the kernel's
 * behaviour, see shared/research/ffi-feasibility.md section 6).
 */

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;
/** Most iovecs one process_vm_readv call takes, on either side. */
export const IOV_MAX = 1024;

/** Syscall numbers (x86-64). */
export const SYS = {
  read: 0,
  write: 1,
  close: 3,
  mmap: 9,
  mprotect: 10,
  munmap: 11,
  rt_sigreturn: 15,
  prctl: 157,
  restart_syscall: 219,
  ioctl: 16,
  pipe2: 293,
  getpid: 39,
  fcntl: 72,
  gettid: 186,
  tgkill: 234,
  vmsplice: 278,
  process_vm_readv: 310,
  process_vm_writev: 311,
  userfaultfd: 323,
  pidfd_open: 434,
  pidfd_getfd: 438,
} as const;

export const PTRACE = {
  PEEKDATA: 2,
  POKEDATA: 5,
  CONT: 7,
  SINGLESTEP: 9,
  GETREGS: 12,
  SETREGS: 13,
  DETACH: 17,
  SEIZE: 0x4206,
  INTERRUPT: 0x4207,
  LISTEN: 0x4208,
  SYSCALL: 24,
  SETOPTIONS: 0x4200,
  GETSIGMASK: 0x420a,
  /** PTRACE_O_TRACESYSGOOD: syscall-stops report SIGTRAP | 0x80. */
  O_TRACESYSGOOD: 1,
  EVENT_STOP: 128,
} as const;

export const WAIT = {
  WNOHANG: 1,
  WALL: 0x40000000,
} as const;

export const SIG = {
  SIGINT: 2,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGTERM: 15,
  SIGTRAP: 5,
  SIGSTOP: 19,
  SIGCONT: 18,
} as const;

/** `_IOWR('f', 16, struct pm_scan_arg)`, on an fd of /proc/PID/pagemap. */
export const PAGEMAP_SCAN = 0xc0606610;
export const PM_SCAN_ARG_SIZE = 96;
export const PAGE_REGION_SIZE = 24;
export const PM_SCAN_WP_MATCHING = 1;
export const PM_SCAN_CHECK_WPASYNC = 2;

/** PAGEMAP_SCAN page categories. Never put PAGE_IS_FILE in any mask: it makes the scan 4-10x slower. */
export const PAGE_IS = {
  WPALLOWED: 1,
  WRITTEN: 2,
  FILE: 4,
  PRESENT: 8,
  SWAPPED: 16,
  PFNZERO: 32,
  HUGE: 64,
  SOFT_DIRTY: 128,
  GUARD: 256,
} as const;

/** /proc/PID/pagemap entry bits (bit numbers in the 64-bit entry). */
export const PM_BIT = {
  PRESENT: 63,
  SWAPPED: 62,
  FILE: 61,
  UFFD_WP: 57,
  EXCLUSIVE: 56,
  SOFT_DIRTY: 55,
} as const;

export const UFFD = {
  API: 0xaa,
  UFFDIO_API: 0xc018aa3f,
  UFFDIO_REGISTER: 0xc020aa00,
  UFFDIO_UNREGISTER: 0x8010aa01,
  UFFDIO_WRITEPROTECT: 0xc018aa06,
  REGISTER_MODE_WP: 2,
  WRITEPROTECT_MODE_WP: 1,
  FEATURE_WP_UNPOPULATED: 1 << 13,
  FEATURE_POISON: 1 << 14,
  FEATURE_WP_ASYNC: 1 << 15,
  FEATURE_MOVE: 1 << 16,
  USER_MODE_ONLY: 1,
} as const;

export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  NONBLOCK: 0o4000,
  CLOEXEC: 0o2000000,
} as const;

export const F = {
  GETFL: 3,
  SETFL: 4,
  SETPIPE_SZ: 1031,
  GETPIPE_SZ: 1032,
} as const;

/** struct user_regs_struct: 27 u64 words; these are word indexes (byte offset / 8). */
export const REG = {
  r15: 0,
  r14: 1,
  r13: 2,
  r12: 3,
  rbp: 4,
  rbx: 5,
  r11: 6,
  r10: 7,
  r9: 8,
  r8: 9,
  rax: 10,
  rcx: 11,
  rdx: 12,
  rsi: 13,
  rdi: 14,
  orig_rax: 15,
  rip: 16,
  cs: 17,
  eflags: 18,
  rsp: 19,
  ss: 20,
  fs_base: 21,
  gs_base: 22,
  ds: 23,
  es: 24,
  fs: 25,
  gs: 26,
} as const;
export const USER_REGS_SIZE = 216;
