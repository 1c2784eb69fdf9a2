/**
 * ckpt: process memory checkpointing, CRIU-compatible. The library surface (the package's only export:
 * `exports` maps `ckpt` here and nothing else, so dist/testing and the tests are not part of it): run a
 * read- or splice-mode pre-dump of a running process tree into a CRIU image directory or a page server,
 * the driver they share (DumpPipeline), the freeze a caller owns (freezeTree), and the pieces they are
 * made of.
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
  DumpPipeline,
  ImageSet,
  type Logger,
  type PageSource,
  type PipelineOptions,
  type PreDumpOptions,
  type PreDumpResult,
  preDump,
  preDumpSplice,
  ReadSource,
  type SplicePreDumpOptions,
  type SplicePreDumpResult,
  SpliceSource,
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
export { type FreezeTreeOptions, FrozenTree, freezeTree } from './ptrace/index.js';
export { LocalSink, NullSink, openPageSession, type PageSink, type PageTarget } from './xfer/index.js';
