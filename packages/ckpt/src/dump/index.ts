/**
 * dump/: orchestration. One driver for every dump (pipeline.ts: DumpPipeline, prepare -> capture in the
 * caller's freeze -> finish), a page source per mode (read-source.ts, splice-source.ts behind
 * page-source.ts), one owner of the output (image-set.ts: directory + page session, committed or aborted
 * once). `preDump` (read) and `preDumpSplice` (splice) are the pre-dumps built on it; with `trackMem` and
 * `prevImagesDir` a pre-dump writes only what changed since the parent (TrackingSession, planPages +
 * writePlannedPages), and `preDumpIterations` chains several in one run. Design: ../../docs/tracking.md
 * and the README's design section.
 *
 * @example
 * const r = await preDump({ pid: 1234, imagesDir: '/ckpt/pre1', logger });
 */
export * from './chain-check.js';
export * from './errors.js';
export * from './held-pages.js';
export * from './image-set.js';
export * from './iterations.js';
export * from './logger.js';
export * from './page-plan.js';
export * from './page-source.js';
export * from './pipeline.js';
export * from './pre-dump.js';
export * from './process-ids.js';
export * from './read-source.js';
export * from './sent-pages.js';
export * from './splice-pre-dump.js';
export * from './splice-source.js';
export * from './stats.js';
export * from './task-scan.js';
export * from './track-state.js';
export * from './tracking.js';
export * from './tree.js';
export * from './window-priority.js';
