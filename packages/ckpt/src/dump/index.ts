/**
 * dump/: orchestration. `preDump` runs one read-mode pre-dump of a process into an image directory (or any
 * PageSink) and returns its statistics; with `trackMem` and `prevImagesDir` it writes only what changed
 * since the parent (TrackingSession, planPages + writePlannedPages: reusable by other page sources),
 * and `preDumpIterations` chains several in one run. Design: ../../docs/tracking.md.
 *
 * @example
 * const r = await preDump({ pid: 1234, imagesDir: '/ckpt/pre1', logger });
 */
export * from './chain-check.js';
export * from './errors.js';
export * from './iterations.js';
export * from './logger.js';
export * from './page-plan.js';
export * from './pre-dump.js';
export * from './sent-pages.js';
export * from './stats.js';
export * from './track-state.js';
export * from './tracking.js';
