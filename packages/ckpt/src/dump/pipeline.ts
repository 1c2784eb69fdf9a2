/**
 * The one driver of every dump: read and splice pre-dumps today, the final dump next. It owns the order of
 * the steps and what runs where; the caller owns the freeze (ptrace/freezeTree), so that a dump can take
 * memory and the rest of a process's state under one freeze.
 *
 * ```
 * prepare()   before the freeze: validate, check the parent chain against its index and take its
 *             coverage per process (images/chainCoverage), open the tracking session, allocate the
 *             source's buffers (frozen read: the held copy's chunks; splice: pipes' limits), ready the
 *             window (willFreeze: planner compiled, injection's maps and gadgets read), create the
 *             directory and open the page session (ImageSet: a directory or a page server alike)
 * precopy()   (a frozen read capture at a chain's end) the pre-copy passes, the targets running (pre-copy.ts)
 *   caller:   tree = freezeTree(pid)  (freezeForWindow: precopy + freeze)  (optional for read, required for splice)
 * capture()   THE FROZEN WINDOW (when frozen): per process scan (maps, pages, the tracker's written set;
 *             at the chain's end the target's userfaultfd closed first), the plan, source.copy() (read:
 *             pages into memory, HeldPages, up to its cap; splice: pages into pipes); after pre-copy
 *             passes only what they do not hold is planned and read (the full plan waits for the drain)
 *   caller:   a full dump collects the rest of the state here, under the same freeze; then tree.thaw()
 * finish()    after the thaw: end tracking on our side (first: the targets leave the armed state sooner),
 *             source.drain() (read: the held copy; splice: the pipes), close the session, statistics,
 *             tracking state, inventory, commit + fsync, the index
 * fail(e)     any step: end tracking (through the freeze while still frozen), release the source, abort the
 *             image set once; returns the error to throw (a DumpError for expected failures)
 * ```
 * `ckpt dump` (next) is this driver plus one step between capture() and the thaw: read the rest of each
 * process's state (registers, fds, mm, ...) through the caller's FrozenTree, encode it after the thaw and
 * write it through `images.dir` before finish() (which then writes a dump's inventory, not a pre-dump's).
 *
 * Without a freeze (a read pre-dump of a running tree), capture() runs on the running processes and the
 * tracker stops each only for its injected syscalls; read mode then writes while it copies (bounded
 * buffers). Frozen, it copies into memory and writes in finish() (past the hold's cap: in the window).
 *
 * @example
 * const p = await DumpPipeline.prepare({ pid, imagesDir, what: 'pre-dump' }, (pid) => new ReadSource(pid, o));
 * try {
 *   using tree = freezeTree(pid);
 *   await p.capture(tree);
 *   tree.thaw();
 *   return await p.finish();
 * } catch (e) { throw p.fail(e); }
 */
import {
  type ChainCoverage,
  chainCoverage,
  type ImageDir,
  type InventoryEntry,
  PRE_DUMP_MODE,
  preDumpInventory,
} from '../images/index.js';
import type { PagesMethod, TrackerChoice } from '../mem/index.js';
import { type ProcessIdentity, readUptimeMicros } from '../proc/index.js';
import { type FrozenTree, injectionSite, sitePreread } from '../ptrace/index.js';
import { PAGE_SIZE } from '../sys/index.js';
import type { PageSink, PageTarget } from '../xfer/index.js';
import { DumpError, dumpErrorFrom } from './errors.js';
import { ImageSet, openParent } from './image-set.js';
import { type Logger, silentLogger } from './logger.js';
import { warmPlanner } from './page-plan.js';
import { PageProgress, type PageSource } from './page-source.js';
import { phaseTimer } from './phase-timer.js';
import { PreCopy } from './pre-copy.js';
import { readProcessIds } from './process-ids.js';
import { readSentPages } from './sent-pages.js';
import { type PreDumpResult, resultOf, taskResult, toDumpStatsEntry } from './stats.js';
import { checkSameProgram, scanTask, type TaskScan } from './task-scan.js';
import { TrackingSession } from './tracking.js';
import { listTree } from './tree.js';

/** What the driver needs; the CLI builds it from argv and env (no global state). */
export interface PipelineOptions {
  readonly pid: number;
  /** Image directory to create (inventory, stats; pagemap and pages too when the target is the images). */
  readonly imagesDir?: string;
  /** Where pages go (default: `imagesDir`; 'discard' without one). */
  readonly target?: PageTarget;
  /** Instead of `target`, a session the caller opened: handed over (closed or aborted by the dump). */
  readonly sink?: PageSink;
  /** How present pages are found (default: PAGEMAP_SCAN when the kernel has it). */
  readonly pagesMethod?: PagesMethod;
  readonly logger?: Logger;
  /** Progress: pages handled so far, of `total`. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Dump the process's descendants too (CRIU's `-t`; default true). Unfrozen: listed once. */
  readonly tree?: boolean;
  /** The parent image set, relative to `imagesDir` as CRIU's --prev-images-dir. */
  readonly prevImagesDir?: string;
  /** Track memory changes (tracking.ts); undefined (and no `tracking`): every dump is full. */
  readonly trackMem?: TrackerChoice;
  /** A session carried over from the previous iteration (--iterations); the caller closes it. */
  readonly tracking?: TrackingSession;
  /** Write ckpt-track.json for the next run (default true when tracking into an images dir). */
  readonly saveTracking?: boolean;
  /** End tracking (close the targets' userfaultfds): the chain's end. Default: when frozen. */
  readonly endTracking?: boolean;
  /** Names the dump in messages ('pre-dump', 'splice pre-dump'). */
  readonly what?: string;
  /**
   * capture() will run frozen: prepare() readies the window's work (the injector's gadgets and maps for
   * ending tracking, the compiled planner). Only a hint: without it the window does that work itself.
   */
  readonly willFreeze?: boolean;
  /**
   * A frozen capture with a parent: pre-copy passes before the freeze, at most (default 4; 0: none). With
   * pages going elsewhere (a page server, a migration's session) only when given (> 0): the caller asserts
   * that the receiver holds the parent chain (the passes plan parent holes before the window learns it).
   */
  readonly preCopyPasses?: number;
  /** Test hook: after pre-copy pass `k` (from 1), before the next pass or the freeze. */
  readonly afterPrecopyPass?: (k: number) => void | Promise<void>;
}

/**
 * Before a frozen incremental capture: compile the planner (run once cold in the window it costs ~10x)
 * and read what ending tracking injects with (each process's maps and the gadgets in its libraries:
 * ptrace/injectionSite). A failure only leaves that work to the window.
 */
function readyWindow(o: PipelineOptions, log: Logger): void {
  warmPlanner();
  try {
    // the final dump read them just now (it keeps the sites for its state collection)
    for (const pid of o.tree === false ? [o.pid] : listTree(o.pid)) if (!sitePreread(pid)) injectionSite(pid);
  } catch (e) {
    log.debug('could not ready the injection before the freeze: %s', String(e));
  }
}

/** µs from the end of the last pre-copy pass to the freeze (GC, reservation, freezeTree), estimated. */
const FREEZE_GAP_MICROS = 30_000;

const usSince = (t: bigint) => Math.round(Number(process.hrtime.bigint() - t) / 1000);

export class DumpPipeline {
  private tasks: TaskScan[] = [];
  private progress = new PageProgress(0);
  private tree: FrozenTree | undefined;
  private scanUs = 0;
  private copyUs = 0;
  private endUs = 0;
  private current: number;
  private released = false;
  /** Descendants that exited before they could be frozen or scanned: left out. */
  private readonly exited: number[] = [];
  private readonly log: Logger;
  /** The pre-copy passes' held pages (precopy()), taken in the window and written by finish(). */
  private pre: PreCopy | undefined;
  private preStop = '';

  private constructor(
    private readonly o: PipelineOptions,
    private readonly source: PageSource,
    private readonly set: ImageSet,
    private readonly session: TrackingSession | undefined,
    private readonly parent: ImageDir | undefined,
    private readonly covered: ChainCoverage | undefined,
    private readonly known: ReadonlyMap<number, ProcessIdentity>,
    private readonly t0: bigint,
    private readonly dumpUptime: number,
  ) {
    this.log = o.logger ?? silentLogger;
    this.current = o.pid;
  }

  /**
   * Everything that can happen before the freeze. `makeSource` allocates the source's buffers. Throws
   * DumpError (EINVAL for bad options; the directory, if created, is then marked incomplete).
   */
  static async prepare(o: PipelineOptions, makeSource: (pid: number) => PageSource): Promise<DumpPipeline> {
    const log = o.logger ?? silentLogger;
    const pid = o.pid;
    if (!Number.isInteger(pid) || pid <= 0) throw new DumpError('EINVAL', `bad pid: ${pid}`);
    if (!o.sink && !o.imagesDir && (o.target === undefined || o.target.kind === 'images')) {
      throw new DumpError('EINVAL', 'no images directory given');
    }
    if (o.prevImagesDir !== undefined && !o.imagesDir) {
      throw new DumpError('EINVAL', '--prev-images-dir needs an images directory');
    }
    const t0 = process.hrtime.bigint();
    performance.now(); // Node loads perf_hooks on first use: now, not in freezeTree's window
    const dumpUptime = readUptimeMicros();
    const parent = o.prevImagesDir !== undefined ? openParent(o.imagesDir!, o.prevImagesDir) : undefined;
    let source: PageSource;
    try {
      source = makeSource(pid);
    } catch (e) {
      throw dumpErrorFrom(e, pid);
    }
    let session = o.tracking;
    let set: ImageSet;
    try {
      if (!session && o.trackMem !== undefined) session = TrackingSession.open(o.trackMem, parent, log);
      if (parent) session?.readParent(parent);
      if (parent && session && o.willFreeze) readyWindow(o, log);
      set = await ImageSet.open({ ...o, what: o.what ?? 'pre-dump', log });
    } catch (e) {
      if (session !== o.tracking) session?.close();
      source.close();
      throw e;
    }
    // what the parent chain holds, per process: indexed once, before the freeze (pages going to a page
    // server: what the parent sent; else the parent's index, or its pagemaps when it has none)
    let covered: ChainCoverage | undefined;
    try {
      if (parent) covered = set.sendsElsewhere ? readSentPages(parent.path) : chainCoverage(parent);
    } catch (e) {
      if (session !== o.tracking) session?.close();
      source.close();
      throw set.fail(e, pid);
    }
    const known = parent ? readProcessIds(parent.path) : new Map<number, ProcessIdentity>();
    return new DumpPipeline(o, source, set, session, parent, covered, known, t0, dumpUptime);
  }

  /** The image set (its directory and page session). */
  get images(): ImageSet {
    return this.set;
  }

  /**
   * Right before a frozen capture at the chain's end (the targets running): the pre-copy passes
   * (pre-copy.ts). Pass after pass, what was written since the parent (then since the previous pass) is
   * collected and copied into memory, so that the window copies only what is written after the last one.
   * Passes go on while the copy shrinks by a quarter at least, until the window's copy after the last
   * one fits `budgetMicros` at the passes' own rate (projected: the pages written over that pass's copy
   * and the way to the freeze, at the write rate the pass saw), at most `maxPasses`; at the hold's cap they
   * stop and keep what they hold (the window reads the rest, as without passes). Only with a parent, a
   * tracking session and a source that holds its frozen copy (read mode, `holdCap` > 0); else nothing.
   */
  async precopy(o: { readonly maxPasses?: number; readonly budgetMicros?: number } = {}): Promise<void> {
    const limits = this.source.precopyLimits?.();
    // a page server may lack a process's parent (OPEN2, known in the window): its holes would be read
    // then; the passes keep to a local directory unless asked for (a migration's receiver holds the chain)
    if (
      !this.session ||
      !this.parent ||
      !limits ||
      this.pre ||
      (this.set.sendsElsewhere && (o.maxPasses ?? this.o.preCopyPasses) === undefined) ||
      (o.maxPasses ?? this.o.preCopyPasses) === 0
    ) {
      return;
    }
    // the passes hold at most the cap, as the window's copy (at most twice the cap in all)
    const pre = new PreCopy(limits);
    this.pre = pre;
    const maxPasses = o.maxPasses ?? this.o.preCopyPasses ?? 4;
    const budget = o.budgetMicros ?? 20_000;
    let pids: number[];
    try {
      pids = this.o.tree === false ? [this.o.pid] : listTree(this.o.pid);
    } catch (e) {
      throw dumpErrorFrom(e, this.o.pid);
    }
    const ctx = {
      pids,
      session: this.session,
      parent: this.parent,
      covered: this.covered,
      known: this.known,
      pagesMethod: this.o.pagesMethod,
    };
    let prev = Number.POSITIVE_INFINITY;
    let prevStart = 0;
    for (let k = 1; ; k++) {
      const start = performance.now();
      const f = await pre.pass(ctx);
      this.log.info(
        'pre-copy pass %d: %d pages written, %d copied in %d + %d us; %d bytes held',
        k,
        f.written,
        f.copied,
        f.collectMicros,
        f.copyMicros,
        f.heldBytes,
      );
      await this.o.afterPrecopyPass?.(k);
      const perPage = f.copied > 0 ? f.copyMicros / f.copied : 0;
      // the window's copy if the passes stop now: what is written from this pass's collect to the freeze
      // (its copy, then the GC and the freeze) at the rate this pass saw since the previous one's collect
      const rate = k > 1 ? f.written / ((start - prevStart) * 1000) : undefined; // pages per µs
      const windowPages = rate !== undefined ? rate * (f.copyMicros + FREEZE_GAP_MICROS) : f.copied;
      prevStart = start;
      if (pre.reason) this.preStop = pre.reason;
      else if (Math.min(f.copied, windowPages) * perPage <= budget) {
        this.preStop = `after pass ${k} the window's copy fits the budget (~${Math.round(windowPages)} pages)`;
      } else if (f.copied > prev * 0.75) this.preStop = `pass ${k} did not shrink the copy by a quarter`;
      else if (k >= maxPasses) this.preStop = `${k} passes`;
      if (this.preStop) break;
      prev = f.copied;
    }
    if (pre.reason) this.log.warn('%s: the frozen window copies what it does not hold', pre.reason);
    // the window copies about what the last pass did (written over a pass's time): room for twice that
    const last = pre.figures().at(-1);
    this.source.reserveHold?.(2 * (last?.copied ?? 0) * PAGE_SIZE);
  }

  /**
   * THE FROZEN WINDOW when `tree` is given (it must hold the root; every process it holds is dumped):
   * scan each process, copy its pages, end tracking. Without `tree`, the same on the running tree.
   */
  async capture(tree?: FrozenTree): Promise<void> {
    const { o, log } = this;
    if (this.source.needsFreeze && !tree) {
      throw new DumpError('EINVAL', `${this.source.mode} mode needs the target frozen`);
    }
    this.tree = tree;
    const tScan = process.hrtime.bigint();
    let pids: number[];
    try {
      pids = tree ? tree.pids : o.tree === false ? [o.pid] : listTree(o.pid);
    } catch (e) {
      throw dumpErrorFrom(e, o.pid);
    }
    const endTracking = o.endTracking ?? tree !== undefined;
    for (const pid of pids) {
      this.current = pid;
      const t = scanTask(pid, {
        root: pid === o.pid,
        log,
        frozen: tree?.get(pid),
        pagesMethod: o.pagesMethod,
        session: this.session,
        parent: this.parent,
        sent: this.covered,
        endTracking,
        known: this.known.get(pid),
        dumpPids: pids,
        precopy: this.pre,
      });
      if (t) this.tasks.push(this.takePrecopied(t));
      else this.exited.push(pid);
    }
    if (tree) this.exited.unshift(...tree.exited);
    this.session?.keepOnly(this.tasks.map((t) => t.pid));
    if (this.session) log.info('memory tracking: %s (%s)', this.session.kind ?? 'none', this.session.reason);
    this.scanUs = usSince(tScan);
    this.progress = new PageProgress(
      this.tasks.reduce((n, t) => n + t.pages.data.pages, 0),
      o.onProgress,
    );
    const tCopy = process.hrtime.bigint();
    for (const t of this.tasks) {
      this.current = t.pid;
      await this.source.copy(t, this.set.sink, this.progress);
      if (!t.frozen) checkSameProgram(t.pid, t.identity); // a frozen process cannot exec
    }
    this.copyUs = usSince(tCopy);
    this.current = o.pid;
    // ending tracking: each target's userfaultfd was closed in its scan (through the freeze, before its
    // collect: planTask's endTracking); our side's close (the kernel unregistering the ranges: ~25 ms a
    // GiB) and the huge pages' collapse wait for finish(), after the thaw
  }

  /**
   * THE FROZEN WINDOW: a task planned after pre-copy passes reads only what its plan says now; the rest
   * of its pagemap (the held pages, the holes) is made when the source writes it, after the thaw.
   */
  private takePrecopied(t: TaskScan): TaskScan {
    const pre = this.pre;
    const complete = t.complete;
    const written = t.written;
    if (!pre || !complete || !written) return t;
    if (!this.source.addPrecopied) throw new Error('a pre-copy plan for a source that cannot hold it');
    this.source.addPrecopied(t.pid, () => {
      const items = pre.items(t.pid, complete(), t.pages.data, written);
      for (const r of items) if (r.bytes) this.progress.total += r.n;
      return items;
    });
    return t;
  }

  /** After finish({ closeSessionSoon }): the session's CLOSE confirmed (throws what the close threw). */
  sessionClosed(): Promise<void> {
    return this.set.closing;
  }

  /**
   * The end of tracking finish({ deferTrackingEnd }) left: after the tree was killed (`killed`: its
   * memory is gone, the close is one cheap hold), or once it runs again (the paced release). Safe twice.
   */
  endTracking(killed: boolean): void {
    if (!this.session || this.released) return;
    this.released = true;
    const tEnd = process.hrtime.bigint();
    this.session.release(killed ? this.tree?.processes : undefined);
    if (this.session !== this.o.tracking) this.session.close();
    this.endUs = usSince(tEnd);
  }

  /**
   * After the thaw (where the mode allows): write what is left, statistics, inventory, commit.
   * `inventory`: a full dump's (ckpt dump: dump/full/writeTaskImages), instead of a pre-dump's.
   */
  async finish(
    f: {
      readonly inventory?: InventoryEntry;
      /**
       * Leave the end of tracking (our side's close of the userfaultfd: the kernel unregistering every
       * range, ~30 ms a GiB) to endTracking(): a tree killed after the dump (a migration's source, frozen
       * until the destination runs it) ends it after the kill, when nothing is left to unregister.
       */
      readonly deferTrackingEnd?: boolean;
      /**
       * Do not wait for the page session's CLOSE reply (ImageSet.closeSession `soon`): a caller whose
       * next message on the same connection is answered only after the close (a migration's last files
       * and RESTORE); it awaits sessionClosed() before it relies on the pages.
       */
      readonly closeSessionSoon?: boolean;
    } = {},
  ): Promise<PreDumpResult> {
    const { o, log, set } = this;
    const step = phaseTimer(log, 'finish:');
    const tree = this.tree;
    // the chain's end: tracking ends first, then the held copy is written. While a target is armed, each
    // first write to a page is a fault (uffd-wp) and, on a shadow-paging host, every one of its threads
    // pays for the page-table changes when it runs (docs/pipeline.md "The stall after the thaw"): the
    // drain's 0.4-0.8 s at 4 GiB need the held pages only, not the tracking
    const end = o.endTracking ?? tree !== undefined;
    if (f.deferTrackingEnd && this.session && !this.released) {
      // endTracking() later (after the kill)
    } else if (this.session && !this.released && (end || !set.dir)) {
      const tEnd = process.hrtime.bigint();
      this.session.release(tree?.frozen ? tree.processes : undefined);
      this.released = true;
      this.endUs = usSince(tEnd);
      step('end tracking');
    }
    await this.source.drain(set.sink, this.progress);
    step('drain');
    // one session for the whole tree (page server: CLOSE)
    const closeNs = await set.closeSession({ soon: f.closeSessionSoon });
    step('close the session');
    const tasks = this.tasks.map((t) => taskResult(t, this.source.taskPages(t.pid)));
    const fig = this.source.figures();
    if (fig.held?.spilledBytes) {
      log.warn(
        'the frozen copy reached its cap (%d bytes held): %d bytes were written while frozen',
        fig.held.heldBytes,
        fig.held.spilledBytes,
      );
    }
    const result = resultOf({
      pid: o.pid,
      imagesDir: set.path,
      mode: this.source.mode,
      tasks,
      pagesPresent: this.progress.total,
      bytesWritten: set.sink.bytesWritten,
      method: this.tasks[0]?.found.method ?? 'scan',
      figures: fig,
      frozen: tree !== undefined,
      freezingTime: tree ? tree.stats.freezeMicros : 0,
      frozenTime: tree ? tree.stoppedMicros : 0,
      scanUs: this.scanUs,
      copyUs: this.copyUs,
      closeNs,
      session: this.session,
      exited: this.exited,
      t0: this.t0,
    });
    let track: ReturnType<TrackingSession['save']>;
    if (this.session && set.dir && !this.released && !f.deferTrackingEnd && (o.saveTracking ?? true)) {
      track = this.session.save();
    }
    set.commit({
      stats: { ...toDumpStatsEntry(result), ...fig.stats },
      inventory:
        f.inventory ??
        preDumpInventory(
          this.source.mode === 'splice' ? PRE_DUMP_MODE.SPLICE : PRE_DUMP_MODE.READ,
          this.dumpUptime,
        ),
      track,
      processIds: new Map(this.tasks.map((t) => [t.pid, t.identity])),
    });
    step('commit');
    if (this.session !== o.tracking && !f.deferTrackingEnd) this.session?.close();
    this.source.close();
    const pre = this.pre
      ? { passes: this.pre.figures(), heldBytes: this.pre.heldBytes, stop: this.preStop }
      : undefined;
    this.pre?.close();
    log.info(
      '%s of %d done: %d processes, %d pages written, %d skipped, %d us',
      o.what ?? 'pre-dump',
      o.pid,
      tasks.length,
      result.pagesWritten,
      result.pagesSkipped,
      result.totalTime,
    );
    return {
      ...result,
      endTrackingTime: this.endUs,
      totalTime: usSince(this.t0),
      ...(pre ? { preCopy: pre } : {}),
    };
  }

  /**
   * Any failure: end tracking (the chain is broken: leave nothing in the targets; through the freeze while
   * it holds), release the source, abort the image set. Returns the error to throw; safe twice.
   */
  fail(e: unknown): unknown {
    try {
      this.session?.release(this.tree?.frozen ? this.tree.processes : undefined);
    } catch (re) {
      this.log.warn('could not end tracking: %s', String(re));
    }
    this.source.close();
    this.pre?.close();
    return this.set.fail(this.execOr(e), this.current);
  }

  /** A read that failed because the process exec'd (its old mm gone) says so, not "exited". */
  private execOr(e: unknown): unknown {
    const t = this.tasks.find((x) => x.pid === this.current);
    const err = dumpErrorFrom(e, this.current);
    if (!t || !(err instanceof DumpError) || err.code !== 'ESRCH') return e;
    try {
      checkSameProgram(t.pid, t.identity);
    } catch (x) {
      return x;
    }
    return e;
  }
}
