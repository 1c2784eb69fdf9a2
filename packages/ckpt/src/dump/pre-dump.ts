/**
 * A read-mode pre-dump of one process, as `criu pre-dump --pre-dump-mode=read` but with the target left
 * running (unless `freeze`):
 *
 * ```
 * the tree under PID (each process: threads + /proc/PID/maps) -> mem/planVmas -> mem/findPages (PAGEMAP_SCAN | pagemap)
 *   -> mem/PageReader (process_vm_readv, one buffer) -> PageSink (per process: pagemap-PID.img + pages-N.img)
 *   -> sink.close() (a page server: one session for the whole tree, CLOSE and its reply)
 *   -> stats-dump, irmap-cache, inventory.img (last: its presence marks the set complete)
 * ```
 * Through a page server (`sink`) only pagemap/pages leave; the directory keeps inventory, stats-dump,
 * irmap-cache, the parent link, ckpt-track.json and ckpt-sent.json (what was sent: the next pre-dump
 * plans PE_PARENT holes inside it, and sends them as data anyway when OPEN2 says the server has no parent
 * for the process).
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
import { resolve } from 'node:path';
import { ImageDir, PRE_DUMP_MODE, preDumpInventory } from '../images/index.js';
import {
  type FoundPages,
  findPages,
  PageRanges,
  PageReader,
  type PagesMethod,
  planVmas,
  type TrackerChoice,
  type VmaPlan,
} from '../mem/index.js';
import { listThreads, readMaps, readStatus, readUptimeMicros } from '../proc/index.js';
import { type FrozenProcess, freeze } from '../ptrace/index.js';
import { LocalSink, type PageSink } from '../xfer/index.js';
import { abortDump } from './abort.js';
import { DumpError, dumpErrorFrom } from './errors.js';
import { type Logger, silentLogger } from './logger.js';
import { holesAsData, type PagePlan, writePlannedPages } from './page-plan.js';
import { readSentPages, type SentPages, SentPagesSink, writeSentPages } from './sent-pages.js';
import { type PreDumpResult, type TaskResult, type TrackingResult, toDumpStatsEntry } from './stats.js';
import { writeTrackState } from './track-state.js';
import { type TaskTracking, TrackingSession } from './tracking.js';
import { listTree } from './tree.js';

/** Options of preDump (no global state: the CLI builds this from argv and env). */
export interface PreDumpOptions {
  readonly pid: number;
  /** Image directory to create (inventory, stats; pagemap and pages too unless `sink` is given). */
  readonly imagesDir?: string;
  /**
   * Where pages go instead of `imagesDir`'s pagemap and pages files: a page-server client (the directory
   * still gets inventory, stats-dump and irmap-cache, as CRIU, and ckpt-sent.json for the next
   * iteration's holes), or a NullSink for a dry run (then without `imagesDir`, nothing is written). Every
   * process of the tree goes through it; its `close()`, if any, is called after the last one.
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
  /** Dump the process's descendants too, each into its own pagemap (CRIU's `-t`; default true). */
  readonly tree?: boolean;
  /** Cancels the dump (the images are marked incomplete; sys/'s CancelledError). */
  readonly signal?: AbortSignal;
  /** Test hook, after each buffer went to the sink (index from 0). */
  readonly afterBuffer?: (index: number) => void;
  /**
   * The parent image set, relative to `imagesDir` as CRIU's --prev-images-dir (e.g. `../pre1`): creates
   * the `parent` link; with tracking, pages unchanged since the parent become PE_PARENT holes.
   */
  readonly prevImagesDir?: string;
  /**
   * Track memory changes (see tracking.ts): with a parent, the tracking state left there
   * (ckpt-track.json) is resumed; otherwise (or if unusable) tracking starts and the dump is full.
   * Undefined (and no `tracking`): no tracking at all, every pre-dump is full.
   */
  readonly trackMem?: TrackerChoice;
  /** A session carried over from the previous iteration of the same process (--iterations). */
  readonly tracking?: TrackingSession;
  /** Write ckpt-track.json for the next run (default: true when tracking into an images dir). */
  readonly saveTracking?: boolean;
  /** End tracking (close the target's userfaultfd): the chain's end. Default: `freeze`. */
  readonly endTracking?: boolean;
  /** Test hook: after the images are committed, before the target is thawed (with --freeze). */
  readonly afterCommit?: (r: PreDumpResult) => void | Promise<void>;
}

const usSince = (t: bigint) => Math.round(Number(process.hrtime.bigint() - t) / 1000);
const hex = (n: number) => `0x${n.toString(16)}`;

/** One process of the tree, planned and scanned. */
interface TaskScan {
  readonly pid: number;
  readonly threads: number;
  readonly vmas: number;
  readonly plan: VmaPlan;
  readonly found: FoundPages;
  /** Pages to write: data and PE_PARENT holes. */
  readonly pages: PagePlan;
  readonly tracking?: TaskTracking;
}

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

  if (o.prevImagesDir !== undefined && !o.imagesDir) {
    throw new DumpError('EINVAL', '--prev-images-dir needs an images directory');
  }
  const t0 = process.hrtime.bigint();
  const dumpUptime = readUptimeMicros();
  const parent = o.prevImagesDir !== undefined ? openParent(o.imagesDir!, o.prevImagesDir) : undefined;
  let session = o.tracking;
  if (!session && o.trackMem !== undefined) session = TrackingSession.open(o.trackMem, parent, log);
  const owned = session !== o.tracking;
  // pages going to a page server: the parent's coverage is what it sent, not a local pagemap
  const sent = parent && o.sink ? readSentPages(parent.path) : undefined;
  let pids: number[];
  try {
    pids = o.tree === false ? [pid] : listTree(pid);
  } catch (e) {
    throw dumpErrorFrom(e, pid);
  }
  const frozen = new Map<number, FrozenProcess>();
  try {
    if (o.freeze) {
      for (const p of [...pids]) {
        try {
          const f = freeze(p);
          frozen.set(p, f);
          log.info('froze %d: %d threads in %d us', p, f.tids.length, f.stats.freezeMicros);
        } catch (e) {
          if (p === pid || (e as { code?: string }).code !== 'ESRCH') throw dumpErrorFrom(e, p);
          log.warn('process %d exited before it could be frozen', p);
          pids.splice(pids.indexOf(p), 1);
        }
      }
    }
    const tFrozen = process.hrtime.bigint();
    const tasks: TaskScan[] = [];
    for (const p of pids) {
      const t = scanTask(p, frozen.get(p), o, log, p === pid, { session, parent, sent });
      if (t) tasks.push(t);
    }
    session?.keepOnly(tasks.map((t) => t.pid));
    if (session) log.info('memory tracking: %s (%s)', session.kind ?? 'none', session.reason);
    const r = await dumpTasks(o, tasks, { bufferSize, dumpUptime, t0, tFrozen, log, frozen, session });
    if (owned) session?.close();
    return r;
  } catch (e) {
    session?.release(frozen); // the chain is broken: leave nothing in the targets
    throw e;
  } finally {
    for (const f of frozen.values()) f.thaw();
    if (frozen.size > 0) log.info('thawed %d processes', frozen.size);
  }
}

/** Threads, VMAs, plan and present pages of one process; undefined for a descendant that exited. */
function scanTask(
  pid: number,
  frozen: FrozenProcess | undefined,
  o: PreDumpOptions,
  log: Logger,
  root: boolean,
  tr: { session?: TrackingSession; parent?: ImageDir; sent?: SentPages },
): TaskScan | undefined {
  try {
    const threads = frozen ? frozen.tids.length : listThreads(pid).length;
    const vmas = readMaps(pid);
    if (vmas.length === 0 && readStatus(pid).state === 'Z') {
      throw new DumpError('ESRCH', `process ${pid} has exited (a zombie: no memory left)`);
    }
    const plan = planVmas(vmas);
    const tScan = process.hrtime.bigint();
    let found: FoundPages;
    let pages: PagePlan;
    let tracking: TaskTracking | undefined;
    if (tr.session) {
      const t = tr.session.planTask(pid, {
        maps: vmas,
        plan,
        frozen,
        parent: tr.parent,
        covered: tr.sent ? (tr.sent.get(pid) ?? []) : undefined,
        pagesMethod: o.pagesMethod,
        endTracking: frozen !== undefined && (o.endTracking ?? o.freeze === true),
      });
      ({ found, pages, tracking } = t);
      log.info(
        'process %d: %s dump (%s): %d written, %d pages as data, %d as parent holes, stopped %d us',
        pid,
        t.tracking.mode,
        tr.session.kind ?? '-',
        t.tracking.pagesWritten,
        t.pages.data.pages,
        t.pages.holes.pages,
        t.tracking.stoppedMicros,
      );
    } else {
      found = findPages(pid, plan, o.pagesMethod ? { method: o.pagesMethod } : {});
      pages = { data: found.ranges, holes: new PageRanges() };
    }
    log.info(
      'process %d: %d threads, %d VMAs (%d to dump); %s: %d pages present in %d ranges (%d us)',
      pid,
      threads,
      vmas.length,
      plan.dump.length,
      found.method,
      found.ranges.pages,
      found.ranges.length,
      usSince(tScan),
    );
    for (const d of found.deferred) {
      log.warn(
        'deferred %d %s-%s %s: %d present pages (%s)',
        pid,
        hex(d.vma.start),
        hex(d.vma.end),
        d.vma.path,
        d.pages,
        d.reason,
      );
    }
    for (const s of plan.skipped) {
      log.debug('skipped %d %s-%s %s (%s)', pid, hex(s.vma.start), hex(s.vma.end), s.vma.path, s.reason);
    }
    return { pid, threads, vmas: vmas.length, plan, found, pages, tracking };
  } catch (e) {
    const err = dumpErrorFrom(e, pid);
    if (!root && err instanceof DumpError && err.code === 'ESRCH') {
      log.warn('process %d exited before its pages were scanned', pid);
      return undefined;
    }
    throw err;
  }
}

interface DumpContext {
  readonly bufferSize: number;
  readonly dumpUptime: number;
  readonly t0: bigint;
  readonly tFrozen: bigint;
  readonly log: Logger;
  readonly frozen: ReadonlyMap<number, FrozenProcess>;
  readonly session?: TrackingSession;
}

/** Read every task's pages into the sink, one buffer for all, then write stats and inventory. */
async function dumpTasks(o: PreDumpOptions, tasks: TaskScan[], c: DumpContext): Promise<PreDumpResult> {
  const { log } = c;
  const pid = o.pid;
  const scanUs = usSince(c.tFrozen);
  let dir: ImageDir | undefined;
  let sink: PageSink;
  let sent: SentPagesSink | undefined;
  try {
    if (o.imagesDir) dir = ImageDir.create(o.imagesDir, { parent: o.prevImagesDir });
    // pages elsewhere, metadata here: record what went, for the next pre-dump's holes
    if (o.sink && dir) sent = new SentPagesSink(o.sink);
    sink = sent ?? o.sink ?? new LocalSink(dir!);
  } catch (e) {
    throw dumpErrorFrom(e, pid);
  }
  const where = dir ? dir.path : 'the sink';
  let current = pid;
  try {
    using reader = new PageReader(pid, { bufferSize: c.bufferSize });
    let total = tasks.reduce((n, t) => n + t.pages.data.pages, 0);
    let before = 0;
    let readNs = 0;
    let writeNs = 0;
    let calls = 0;
    let faults = 0;
    const results: TaskResult[] = [];
    for (const t of tasks) {
      current = t.pid;
      await sink.begin(t.pid);
      let plan = t.pages;
      let refused: string | undefined;
      if (sink.hasParent === false && plan.holes.length > 0) {
        // the receiver's parent lacks this process: it would refuse PE_PARENT entries
        log.warn(
          'process %d: the page server has no parent pagemap for it: %d parent pages sent as data',
          t.pid,
          plan.holes.pages,
        );
        total += plan.holes.pages;
        plan = holesAsData(plan);
        refused = 'the page server has no parent pagemap for it';
      }
      const st = await writePlannedPages(reader, sink, plan, {
        pid: t.pid,
        onProgress: o.onProgress ? (done) => o.onProgress!(before + done, total) : undefined,
        afterBuffer: o.afterBuffer,
        signal: o.signal,
      });
      const tEnd = process.hrtime.bigint();
      await sink.end();
      writeNs += Number(process.hrtime.bigint() - tEnd);
      before += plan.data.pages;
      readNs += st.readNs;
      writeNs += st.writeNs;
      calls += st.calls;
      faults += st.faults;
      if (st.pagesUnreadable > 0) {
        log.warn(
          'process %d: %d pages went away while being read (%d faults): left out',
          t.pid,
          st.pagesUnreadable,
          st.faults,
        );
      }
      results.push({
        pid: t.pid,
        threads: t.threads,
        vmas: t.vmas,
        pagesScanned: t.found.pagesScanned,
        pagesPresent: t.found.ranges.pages,
        pagesWritten: st.pagesRead,
        pagesSkipped: st.pagesUnreadable,
        pagesSkippedParent: st.holePages,
        mode: refused ? 'full' : (t.tracking?.mode ?? 'full'),
        fallback: refused ?? t.tracking?.fallback,
        stoppedTime: t.tracking?.stoppedMicros ?? 0,
        deferred: t.found.deferred.map((d) => ({
          pid: t.pid,
          start: d.vma.start,
          end: d.vma.end,
          path: d.vma.path,
          reason: d.reason,
          pages: d.pages,
        })),
        guardVmas: t.found.guards,
      });
    }
    const tClose = process.hrtime.bigint();
    await sink.close?.(); // one session for the whole tree (page server: CLOSE and its reply)
    writeNs += Number(process.hrtime.bigint() - tClose);
    const sum = (f: (r: TaskResult) => number) => results.reduce((n, r) => n + f(r), 0);
    let freezingTime = 0;
    for (const f of c.frozen.values()) freezingTime += f.stats.freezeMicros;
    const frozenTime = c.frozen.size > 0 ? usSince(c.tFrozen) : 0;
    const result: PreDumpResult = {
      pid,
      imagesDir: dir ? dir.path : null,
      processes: results.length,
      threads: sum((r) => r.threads),
      vmas: sum((r) => r.vmas),
      pagesScanned: sum((r) => r.pagesScanned),
      pagesPresent: total,
      pagesWritten: sum((r) => r.pagesWritten),
      pagesSkipped: sum((r) => r.pagesSkipped),
      pagesSkippedParent: sum((r) => r.pagesSkippedParent ?? 0),
      bytesWritten: sink.bytesWritten,
      deferred: results.flatMap((r) => r.deferred),
      guardVmas: sum((r) => r.guardVmas),
      method: tasks[0]?.found.method ?? 'scan',
      bufferSize: reader.bufferSize,
      readCalls: calls,
      faults,
      frozen: c.frozen.size > 0,
      freezingTime,
      // up to the thaw, which follows right after the images are committed
      frozenTime,
      stoppedTime: frozenTime + sum((r) => r.stoppedTime ?? 0),
      tracking: trackingResult(c.session, results),
      memdumpTime: scanUs + Math.round(readNs / 1000),
      memwriteTime: Math.round(writeNs / 1000),
      totalTime: usSince(c.t0),
      tasks: results,
    };
    if (dir) {
      if (sent) writeSentPages(dir.path, sent.sent);
      dir.writeStats(toDumpStatsEntry(result));
      dir.writeIrmapCache();
      dir.setInventory(preDumpInventory(PRE_DUMP_MODE.READ, c.dumpUptime));
    }
    const end = o.endTracking ?? o.freeze === true;
    if (c.session && (end || !dir)) c.session.release(c.frozen);
    else if (c.session && dir && (o.saveTracking ?? true)) {
      const state = c.session.save();
      if (state) writeTrackState(dir.path, state);
    }
    if (dir) dir.commit();
    await o.afterCommit?.(result);
    log.info(
      'pre-dump of %d done: %d processes, %d pages written, %d skipped, %d us',
      pid,
      results.length,
      result.pagesWritten,
      result.pagesSkipped,
      result.totalTime,
    );
    return result;
  } catch (e) {
    throw abortDump(e, { pid, failedPid: current, what: 'pre-dump', where, sink, dir, log });
  }
}

/** The parent image set: must exist and be complete (its dump_uptime rules out pid reuse). */
function openParent(imagesDir: string, prev: string): ImageDir {
  const path = resolve(imagesDir, prev);
  let d: ImageDir;
  try {
    d = ImageDir.open(path);
  } catch {
    throw new DumpError('EINVAL', `--prev-images-dir ${prev}: no image directory at ${path}`);
  }
  if (!d.complete) {
    const why = d.incompleteReason;
    throw new DumpError(
      'EINVAL',
      `--prev-images-dir ${prev}: ${path} is incomplete${why ? ` (${why})` : ''}`,
    );
  }
  return d;
}

function trackingResult(s: TrackingSession | undefined, tasks: readonly TaskResult[]): TrackingResult | null {
  if (!s) return null;
  return {
    kind: s.kind ?? 'none',
    reason: s.reason,
    incremental: tasks.filter((t) => t.mode === 'incremental').length,
    full: tasks.filter((t) => t.mode === 'full').length,
    fallbacks: tasks.flatMap((t) => (t.fallback ? [`process ${t.pid}: ${t.fallback}`] : [])),
  };
}
