/**
 * A read-mode pre-dump of one process, as `criu pre-dump --pre-dump-mode=read` but with the target left
 * running (unless `freeze`):
 *
 * ```
 * threads + /proc/PID/maps -> mem/planVmas -> mem/findPages (PAGEMAP_SCAN | pagemap)
 *   -> mem/PageReader (process_vm_readv, one buffer) -> PageSink (pagemap-PID.img + pages-N.img)
 *   -> stats-dump, irmap-cache, inventory.img (last: its presence marks the set complete)
 * ```
 * With `freeze`, every thread is stopped (ptrace/freeze) before the VMAs are listed and thawed after
 * the images are committed (or on any failure, or on a signal: ptrace/'s registry), so the copy is
 * consistent; frozen_time then covers the whole copy.
 *
 * Failure: the sink is aborted (the directory gets an INCOMPLETE marker, no inventory) and a DumpError
 * (ESRCH when the target exited meanwhile) is thrown. Unexpected errors pass through unchanged.
 *
 * @example
 * const r = await preDump({ pid, imagesDir: '/ckpt/pre1' });
 * console.log(r.pagesWritten, r.memdumpTime);
 */
import { ImageDir, PRE_DUMP_MODE, preDumpInventory } from '../images/index.js';
import { findPages, PageReader, type PagesMethod, planVmas } from '../mem/index.js';
import { listThreads, readMaps, readStatus, readUptimeMicros } from '../proc/index.js';
import { type FrozenProcess, freeze } from '../ptrace/index.js';
import { LocalSink, type PageSink } from '../xfer/index.js';
import { DumpError, dumpErrorFrom } from './errors.js';
import { type Logger, silentLogger } from './logger.js';
import { type PreDumpResult, toDumpStatsEntry } from './stats.js';

/** Options of preDump (no global state: the CLI builds this from argv and env). */
export interface PreDumpOptions {
  readonly pid: number;
  /** Image directory to create (inventory, stats; pagemap and pages too unless `sink` is given). */
  readonly imagesDir?: string;
  /**
   * Where pages go instead of `imagesDir`'s pagemap and pages files: a page-server client (the directory
   * still gets inventory, stats-dump and irmap-cache, as CRIU), or a NullSink for a dry run (then without
   * `imagesDir`, nothing is written).
   */
  readonly sink?: PageSink;
  /** Size of the one read buffer, bytes (default 4 MiB). */
  readonly bufferSize?: number;
  /** How present pages are found (default: PAGEMAP_SCAN when the kernel has it). */
  readonly pagesMethod?: PagesMethod;
  /** Take the copy while the target is frozen (needs ptrace/). */
  readonly freeze?: boolean;
  readonly logger?: Logger;
  /** Progress: pages handled so far, of `total`. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Cancels the dump (the images are marked incomplete; DumpError ECANCELED). */
  readonly signal?: AbortSignal;
  /** Test hook, after each buffer went to the sink (index from 0). */
  readonly afterBuffer?: (index: number) => void;
}

const usSince = (t: bigint) => Math.round(Number(process.hrtime.bigint() - t) / 1000);
const hex = (n: number) => `0x${n.toString(16)}`;

/** Run one pre-dump. Throws DumpError for expected failures (see the module comment). */
export async function preDump(o: PreDumpOptions): Promise<PreDumpResult> {
  const log = o.logger ?? silentLogger;
  const pid = o.pid;
  if (!Number.isInteger(pid) || pid <= 0) throw new DumpError('EINVAL', `bad pid: ${pid}`);
  if (!o.sink && !o.imagesDir) throw new DumpError('EINVAL', 'no images directory given');
  const bufferSize = o.bufferSize ?? 4 << 20;
  if (!Number.isSafeInteger(bufferSize) || bufferSize < 4096 || bufferSize > 1 << 30) {
    throw new DumpError('EINVAL', `bad buffer size ${bufferSize} (4 KiB .. 1 GiB)`);
  }

  const t0 = process.hrtime.bigint();
  const dumpUptime = readUptimeMicros();
  let frozen: FrozenProcess | undefined;
  try {
    if (o.freeze) {
      frozen = freeze(pid);
      log.info('froze %d threads in %d us', frozen.tids.length, frozen.stats.freezeMicros);
    }
  } catch (e) {
    throw dumpErrorFrom(e, pid);
  }
  const tFrozen = process.hrtime.bigint();
  try {
    return await dumpPages(o, pid, bufferSize, dumpUptime, t0, log, frozen);
  } finally {
    if (frozen) {
      frozen.thaw();
      log.info('thawed after %d us frozen', usSince(tFrozen));
    }
  }
}

async function dumpPages(
  o: PreDumpOptions,
  pid: number,
  bufferSize: number,
  dumpUptime: number,
  t0: bigint,
  log: Logger,
  frozen: FrozenProcess | undefined,
): Promise<PreDumpResult> {
  const tFrozen = process.hrtime.bigint();
  let threads: number[];
  let plan: ReturnType<typeof planVmas>;
  let vmaCount: number;
  try {
    threads = frozen ? frozen.tids : listThreads(pid);
    const vmas = readMaps(pid);
    if (vmas.length === 0 && readStatus(pid).state === 'Z') {
      throw new DumpError('ESRCH', `process ${pid} has exited (a zombie: no memory left)`);
    }
    vmaCount = vmas.length;
    plan = planVmas(vmas);
  } catch (e) {
    throw dumpErrorFrom(e, pid);
  }
  log.info(
    'pre-dump of %d: %d threads, %d VMAs (%d to dump)',
    pid,
    threads.length,
    vmaCount,
    plan.dump.length,
  );

  const tScan = process.hrtime.bigint();
  let found: ReturnType<typeof findPages>;
  try {
    found = findPages(pid, plan, o.pagesMethod ? { method: o.pagesMethod } : {});
  } catch (e) {
    throw dumpErrorFrom(e, pid);
  }
  const scanUs = usSince(tScan);
  log.info(
    '%s: %d pages present in %d ranges (%d us)',
    found.method,
    found.ranges.pages,
    found.ranges.length,
    scanUs,
  );
  for (const d of found.deferred) {
    log.warn(
      'deferred %s-%s %s: %d present pages (%s)',
      hex(d.vma.start),
      hex(d.vma.end),
      d.vma.path,
      d.pages,
      d.reason,
    );
  }
  for (const s of plan.skipped)
    log.debug('skipped %s-%s %s (%s)', hex(s.vma.start), hex(s.vma.end), s.vma.path, s.reason);

  let dir: ImageDir | undefined;
  let sink: PageSink;
  try {
    if (o.imagesDir) dir = ImageDir.create(o.imagesDir);
    sink = o.sink ?? new LocalSink(dir!);
  } catch (e) {
    throw dumpErrorFrom(e, pid);
  }
  const where = dir ? dir.path : 'the sink';
  try {
    await sink.begin(pid);
    using reader = new PageReader(pid, { bufferSize });
    const total = found.ranges.pages;
    const st = await reader.read(
      found.ranges,
      { pages: (va, n, bytes) => sink.addPages(va, n, bytes), flush: () => sink.flush() },
      {
        onProgress: o.onProgress ? (done) => o.onProgress!(done, total) : undefined,
        afterBuffer: o.afterBuffer,
        signal: o.signal,
      },
    );
    const tEnd = process.hrtime.bigint();
    await sink.end();
    const result: PreDumpResult = {
      pid,
      imagesDir: dir ? dir.path : null,
      threads: threads.length,
      vmas: vmaCount,
      pagesScanned: found.pagesScanned,
      pagesPresent: total,
      pagesWritten: st.pagesRead,
      pagesSkipped: st.pagesUnreadable,
      bytesWritten: sink.bytesWritten,
      deferred: found.deferred.map((d) => ({
        start: d.vma.start,
        end: d.vma.end,
        path: d.vma.path,
        reason: d.reason,
        pages: d.pages,
      })),
      guardVmas: found.guards,
      method: found.method,
      bufferSize: reader.bufferSize,
      readCalls: st.calls,
      faults: st.faults,
      frozen: frozen !== undefined,
      freezingTime: frozen ? frozen.stats.freezeMicros : 0,
      // up to the thaw, which follows right after the images are committed
      frozenTime: frozen ? usSince(tFrozen) : 0,
      memdumpTime: scanUs + Math.round(st.readNs / 1000),
      memwriteTime: Math.round(st.writeNs / 1000) + usSince(tEnd),
      totalTime: usSince(t0),
    };
    if (st.pagesUnreadable > 0) {
      log.warn('%d pages went away while being read (%d faults): left out', st.pagesUnreadable, st.faults);
    }
    if (dir) {
      dir.writeStats(toDumpStatsEntry(result));
      dir.writeIrmapCache();
      dir.setInventory(preDumpInventory(PRE_DUMP_MODE.READ, dumpUptime));
      dir.commit();
    }
    log.info(
      'pre-dump of %d done: %d pages written, %d skipped, %d us',
      pid,
      result.pagesWritten,
      result.pagesSkipped,
      result.totalTime,
    );
    return result;
  } catch (e) {
    let err = dumpErrorFrom(e, pid);
    if (err instanceof DumpError && err.code === 'ESRCH') {
      err = new DumpError('ESRCH', `process ${pid} exited during the dump; ${where} is incomplete`, {
        cause: e,
      });
    } else if (err instanceof DumpError && err.code === 'ECANCELED') {
      err = new DumpError('ECANCELED', `pre-dump cancelled; ${where} is incomplete`, { cause: e });
    }
    const reason = err instanceof Error ? err.message : String(err);
    log.error('pre-dump of %d failed: %s', pid, reason);
    try {
      sink.abort(reason);
      dir?.abort(reason); // LocalSink already did; a page-server sink leaves the directory to us
    } catch (abortError) {
      log.error('could not mark %s incomplete: %s', where, String(abortError));
    }
    throw err;
  }
}
