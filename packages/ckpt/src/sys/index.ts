/**
 * sys/: the lowest layer. koffi bindings of the system calls ckpt needs (process_vm_readv/writev, ptrace,
 * waitpid, pidfd_open, pidfd_getfd, ioctl), the kernel constants and struct layouts, errno -> SysError,
 * page-aligned buffers and iovec arrays.
 */
export * from './buffer.js';
export * from './clone3.js';
export * from './constants.js';
export * from './durable-file.js';
export * from './error-kinds.js';
export * from './errors.js';
export * from './iovec.js';
export * from './pagemap-scan.js';
export * from './prctl-mm-map.js';
export * from './ptrace-regset.js';
export * from './ptrace-set.js';
export * from './ptrace-word.js';
export * from './restore-syscalls.js';
export * from './rlimit.js';
export * from './socket-calls.js';
export * from './syscalls.js';
export * from './task-calls.js';
export * from './unix-diag.js';
