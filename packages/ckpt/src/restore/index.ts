/**
 * restore/: rebuilding a process from a full dump's images, the inverse of dump/ over the same images/
 * layer. restoreProcess() is the driver (its module comment has the sequence); the pieces: the helper and
 * its clone with the dumped pid, the trampoline, the address space, descriptors, task state.
 */
export * from './errors.js';
export * from './prebuilt-process.js';
export * from './reap.js';
export * from './restore-process.js';
export * from './restore-warmup.js';
export * from './task-images.js';
