/** proc/: readers of /proc: maps (VMAs), threads, status, start time, uptime. */
export * from './errors.js';
export * from './fds.js';
export * from './file.js';
export * from './identity.js';
export * from './kernel-thread.js';
export * from './maps.js';
export * from './status.js';
export * from './task-info.js';
export * from './tasks.js';
