/**
 * dump/full/: the final dump (CRIU's full image set, `ckpt dump`): its driver on DumpPipeline (finalDump;
 * fullDumpProcess, its first interface), what a process is besides its memory (collectTaskState), its
 * images (writeTaskImages), what cannot be dumped (findRefusals).
 */
export * from './core-entry.js';
export * from './dump-process.js';
export * from './file-table.js';
export * from './final-dump.js';
export * from './injected-state.js';
export * from './pipe-data.js';
export * from './refuse.js';
export * from './rehearse-images.js';
export * from './task-state.js';
export * from './vdso-pages.js';
export * from './vmas.js';
export * from './write-images.js';
export * from './zombies.js';
