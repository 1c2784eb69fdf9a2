/**
 * A splice-mode pre-dump of one process, the algorithm of CRIU's default `criu pre-dump`, kept beside ours
 * (read mode, pre-dump.ts) so that both can be measured in the same run:
 *
 * ```
 * raise RLIMIT_NOFILE -> freeze (every thread) -> /proc/PID/maps -> mem/planVmas -> mem/findPages
 *   -> infect -> mem/spliceToPipes (pipes made in the target, pages vmspliced into them, read ends taken
 *      with pidfd_getfd, the target's copies closed) -> cure -> thaw          <- the target's stopped time
 *   -> SplicedPages.drain (pipe by pipe into the PageSink, each pipe closed when written)
 *   -> stats-dump, irmap-cache, inventory.img (pre_dump_mode = 1, splice)
 * ```
 * Unlike read mode the target is stopped for the scan AND the whole vmsplice, and every dumped page stays
 * pinned in a pipe until it is written out after the thaw (see mem/splice.ts for the limits). One process
 * only: descendants are not dumped in this mode.
 *
 * Failure: the target is cured and thawed (or found gone), every pipe is closed, the sink aborted (the
 * directory gets an INCOMPLETE marker, no inventory) and a DumpError (ESRCH when the target exited) is thrown.
 *
 * @example
 * const r = await preDumpSplice({ pid, imagesDir: '/ckpt/pre1' });
 * console.log(r.frozenTime, r.splice.pipes, r.splice.peakPipeBytes);
 */
import { ImageDir, PRE_DUMP_MODE, preDumpInventory } from '../images/index.js';
import { findPages, type PagesMethod, planVmas } from '../mem/index.js';
import { type SpliceStats, spliceToPipes } from '../mem/splice.js';
import type { DrainStats, SplicedPages } from '../mem/splice-pipes.js';
import { readMaps, readStatus, readUptimeMicros } from '../proc/index.js';
import { freeze, Injector, injectionSite } from '../ptrace/index.js';
import { raiseNofileLimit } from '../sys/index.js';
import { LocalSink, type PageSink } from '../xfer/index.js';
import { abortDump } from './abort.js';
import { DumpError, dumpErrorFrom } from './errors.js';
import { silentLogger } from './logger.js';
import type { PreDumpOptions } from './pre-dump.js';
import type { DumpCounts } from './stats.js';

/**
 * Options of preDumpSplice: those of preDump that apply (no buffer size, no tree, no parent: it always
 * freezes and dumps one process in full), and the pipes'.
 */
export interface SplicePreDumpOptions
  extends Pick<
    PreDumpOptions,
    'pid' | 'imagesDir' | 'sink' | 'pagesMethod' | 'logger' | 'onProgress' | 'signal' | 'afterBuffer'
  > {
  /** Pipe size to ask for (default and maximum: /proc/sys/fs/pipe-max-size). */
  readonly pipeSize?: number;
  /** Pipes created per injected round (default 16; the target needs 2 free fds per pipe of a round). */
  readonly pipesPerRound?: number;
  /** Test hook, while the target is frozen: after each pipe was filled (index from 0). */
  readonly afterPipe?: (index: number) => void;
}

/** What the splice itself used. */
export interface SpliceResult extends SpliceStats {
  /** Bytes held in pipes at the peak (all of them: nothing is written before the thaw). */
  readonly peakPipeBytes: number;
  /** Our RLIMIT_NOFILE soft limit during the dump. */
  readonly nofileLimit: number;
}

/** The one process of a splice pre-dump (the fields of preDump's per-process result). */
export interface SpliceTaskResult extends DumpCounts {
  readonly pid: number;
  /** Present pages that vmsplice could not take (left out). */
  readonly pagesSkipped: number;
  /** Always 0 and 'full': splice mode dumps every present page. */
  readonly pagesSkippedParent: 0;
  readonly mode: 'full';
  readonly stoppedTime: number;
}

/**
 * The statistics of a splice pre-dump: preDump's fields (times in µs) and the pipes' figures.
 *
 * @example
 * const r = await preDumpSplice({ pid, imagesDir });
 * r.frozenTime === r.stoppedTime; // the target is stopped for the scan and the whole vmsplice
 */
export interface SplicePreDumpResult extends Omit<SpliceTaskResult, 'mode'> {
  readonly imagesDir: string | null;
  readonly processes: 1;
  readonly bytesWritten: number;
  readonly method: PagesMethod;
  /** The drain buffer: the largest pipe. */
  readonly bufferSize: number;
  /** vmsplice calls. */
  readonly readCalls: number;
  readonly faults: number;
  readonly frozen: true;
  readonly freezingTime: number;
  readonly frozenTime: number;
  readonly tracking: null;
  readonly memdumpTime: number;
  readonly memwriteTime: number;
  readonly totalTime: number;
  readonly tasks: readonly SpliceTaskResult[];
  readonly splice: SpliceResult;
}

const usSince = (t: bigint) => Math.round(Number(process.hrtime.bigint() - t) / 1000);

/** Run one splice-mode pre-dump. Throws DumpError for expected failures (see the module comment). */
export async function preDumpSplice(o: SplicePreDumpOptions): Promise<SplicePreDumpResult> {
  const log = o.logger ?? silentLogger;
  const pid = o.pid;
  if (!Number.isInteger(pid) || pid <= 0) throw new DumpError('EINVAL', `bad pid: ${pid}`);
  if (!o.sink && !o.imagesDir) throw new DumpError('EINVAL', 'no images directory given');
  if (o.pipeSize !== undefined && (!Number.isSafeInteger(o.pipeSize) || o.pipeSize < 4096)) {
    throw new DumpError('EINVAL', `bad pipe size ${o.pipeSize} (at least 4096)`);
  }
  const t0 = process.hrtime.bigint();
  let dir: ImageDir | undefined;
  let sink: PageSink;
  let limit: number;
  let site: number | undefined;
  const dumpUptime = readUptimeMicros();
  try {
    limit = raiseNofileLimit().soft;
    site = injectionSite(pid);
    if (o.imagesDir) dir = ImageDir.create(o.imagesDir);
    sink = o.sink ?? new LocalSink(dir!);
  } catch (e) {
    throw dumpErrorFrom(e, pid);
  }
  const where = dir ? dir.path : 'the sink';
  let pages: SplicedPages | undefined;
  try {
    // frozen part: scan and splice
    const frozen = freeze(pid);
    const tFrozen = process.hrtime.bigint();
    let scan: { vmas: number; threads: number; found: ReturnType<typeof findPages> };
    let spliced: SpliceStats;
    try {
      const vmas = readMaps(pid);
      if (vmas.length === 0 && readStatus(pid).state === 'Z') {
        throw new DumpError('ESRCH', `process ${pid} has exited (a zombie: no memory left)`);
      }
      const found = findPages(pid, planVmas(vmas), o.pagesMethod ? { method: o.pagesMethod } : {});
      scan = { vmas: vmas.length, threads: frozen.tids.length, found };
      const inj = Injector.infect(frozen, pid, site);
      try {
        const r = spliceToPipes(inj, found.ranges, {
          pipeSize: o.pipeSize,
          pipesPerRound: o.pipesPerRound,
          afterPipe: o.afterPipe,
        });
        pages = r.pages;
        spliced = r.stats;
      } finally {
        inj.cure();
      }
    } finally {
      frozen.thaw();
    }
    const memdumpUs = usSince(tFrozen);
    const stoppedUs = frozen.stats.stoppedMicros;
    log.info(
      'splice pre-dump of %d: %d pages in %d pipes, stopped %d us',
      pid,
      pages.pages,
      spliced.pipes,
      stoppedUs,
    );

    // running part: write the pipes out
    const found = scan.found;
    await sink.begin(pid);
    const drained: DrainStats = await pages.drain(
      { pages: (va, n, bytes) => sink.addPages(va, n, bytes), flush: () => sink.flush() },
      {
        onProgress: o.onProgress ? (done) => o.onProgress!(done, pages!.pages) : undefined,
        signal: o.signal,
        afterPipe: o.afterBuffer,
      },
    );
    const tEnd = process.hrtime.bigint();
    await sink.end();
    // as CRIU's memwrite_time: taking the pages out of the pipes and writing them
    const writeUs = Math.round((drained.readNs + drained.writeNs) / 1000) + usSince(tEnd);
    const deferred = found.deferred.map((d) => ({
      pid,
      start: d.vma.start,
      end: d.vma.end,
      path: d.vma.path,
      reason: d.reason,
      pages: d.pages,
    }));
    const task: SpliceTaskResult = {
      pid,
      threads: scan.threads,
      vmas: scan.vmas,
      pagesScanned: found.pagesScanned,
      pagesPresent: found.ranges.pages,
      pagesWritten: drained.pagesWritten,
      pagesSkipped: pages.pagesSkipped,
      pagesSkippedParent: 0,
      mode: 'full',
      stoppedTime: stoppedUs,
      deferred,
      guardVmas: found.guards,
    };
    const { mode: _full, ...sums } = task;
    const result: SplicePreDumpResult = {
      ...sums,
      imagesDir: dir ? dir.path : null,
      processes: 1,
      bytesWritten: sink.bytesWritten,
      method: found.method,
      bufferSize: pages.largestPipe,
      readCalls: spliced.vmspliceCalls,
      faults: pages.pagesSkipped,
      frozen: true,
      freezingTime: frozen.stats.freezeMicros,
      frozenTime: stoppedUs,
      tracking: null,
      memdumpTime: memdumpUs,
      memwriteTime: writeUs,
      totalTime: usSince(t0),
      tasks: [task],
      splice: { ...spliced, peakPipeBytes: pages.peakBytes, nofileLimit: limit },
    };
    if (dir) {
      dir.writeStats({
        freezing_time: result.freezingTime,
        frozen_time: result.frozenTime,
        memdump_time: result.memdumpTime,
        memwrite_time: result.memwriteTime,
        pages_scanned: result.pagesScanned,
        pages_skipped_parent: 0,
        pages_written: result.pagesWritten,
        pages_lazy: 0,
        page_pipes: spliced.pipes,
        page_pipe_bufs: pages.pipes.reduce((n, p) => n + p.vaddrs.length, 0), // CRIU's nr_iovs
      });
      dir.writeIrmapCache();
      dir.setInventory(preDumpInventory(PRE_DUMP_MODE.SPLICE, dumpUptime));
      dir.commit();
    }
    return { ...result, totalTime: usSince(t0) };
  } catch (e) {
    pages?.close();
    throw abortDump(e, { pid, failedPid: pid, what: 'splice pre-dump', where, sink, dir, log });
  }
}
