/**
 * ckpt: process memory checkpointing, CRIU-compatible. The library surface: run a read-mode pre-dump of a
 * running process into a CRIU image directory (or any PageSink), and the pieces it is made of.
 *
 * @example
 * import { preDump } from 'ckpt';
 * const r = await preDump({ pid: 1234, imagesDir: '/ckpt/pre1' });
 * console.log(`${r.pagesWritten} pages in ${r.totalTime} µs`);
 */
export const VERSION = '0.1.0';
export {
  type DeferredVma,
  DumpError,
  type DumpErrorCode,
  type Logger,
  type PreDumpOptions,
  type PreDumpResult,
  preDump,
  silentLogger,
  toDumpStatsEntry,
} from './dump/index.js';
export {
  findPages,
  MemError,
  PageRanges,
  PageReader,
  type PagesMethod,
  planVmas,
  type VmaPlan,
} from './mem/index.js';
export { LocalSink, NullSink, type PageSink } from './xfer/index.js';
