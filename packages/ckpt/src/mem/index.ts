/**
 * mem/: what a dump takes from the target's memory. vma.ts decides which VMAs count, pages.ts which of
 * their pages are present (PAGEMAP_SCAN or /proc/PID/pagemap), read.ts copies them with process_vm_readv
 * into one bounded buffer (the "read" mode); track/ has the memory-change trackers.
 *
 * @example
 * const plan = planVmas(readMaps(pid));
 * const found = findPages(pid, plan);
 * using reader = new PageReader(pid);
 * await reader.read(found.ranges, consumer);
 */
export * from './errors.js';
export * from './pages.js';
export * from './read.js';
export * from './splice.js';
export * from './splice-pipes.js';
export * from './track/index.js';
export * from './vma.js';
