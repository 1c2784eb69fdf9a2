/**
 * ptrace/: compel's job. freeze() seizes and stops every thread of a process; FrozenProcess.thaw()
 * detaches; freezeTree() freezes a whole process tree (re-listing children until none is new) into a
 * FrozenTree that owns and thaws them all; Injector runs system calls inside a frozen thread and cures it
 * (one by one, or a table of them in one stop: call-batch.ts; the other threads as guests of the same
 * infection: guest-thread.ts; left standing for the next user of the window: Injector.hold); the registry guarantees the
 * target is cured and detached on every way out of this process. Lifecycle: see frozen-process.ts.
 */
export { type BatchCall, checkedBatch, type NamedCall } from './call-batch.js';
export * from './errors.js';
export * from './freeze.js';
export * from './freeze-tree.js';
export * from './frozen-process.js';
export type { GuestThread } from './guest-thread.js';
export { injectionSite, sitePreread } from './injection-site.js';
export * from './injector.js';
export * from './registers.js';
export * from './registry.js';
export * from './remote-memory.js';
export * from './scratch-mapping.js';
export * from './thread-state.js';
