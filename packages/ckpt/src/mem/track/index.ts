/**
 * mem/track/: memory-change trackers behind one interface (tracker.ts): uffd-wp, soft-dirty, none, and
 * chooseTracker() to pick one. Design and trade-offs: README.md.
 */
export * from './choose.js';
export * from './huge-pages.js';
export * from './leftover.js';
export * from './none.js';
export * from './range-list.js';
export * from './soft-dirty.js';
export * from './thread-priority.js';
export * from './track-record.js';
export * from './trackable.js';
export * from './tracker.js';
export * from './uffd-wp.js';
export * from './uffd-wp-state.js';
export * from './unregister-pace.js';
export * from './userfaultfd.js';
