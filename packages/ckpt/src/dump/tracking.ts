/**
 * A tracking session: the memory-change trackers of the processes of a pre-dump chain, and the decision,
 * per process and per iteration, between a full dump and an incremental one (written pages + PE_PARENT
 * holes). One session lives across the iterations of one `ckpt pre-dump` process; between separate runs
 * it is carried by `ckpt-track.json` (track-state.ts).
 *
 * ```
 *            no tracker (first run, state gone, pid reused, new child process)
 * planTask --+--> new tracker: start(trackable VMAs)  [target stopped for the injected syscalls only]
 *            |      -> findPages -> every present page is data                        ("full")
 *            '--> tracker (this session's, or resumed from the parent's ckpt-track.json)
 *                   -> add(new trackable VMAs)  -> probe: registered ranges whose VMA was replaced
 *                   -> collect()  -> findPages  -> planPages: written/new = data, the rest = holes
 *                                                  (only where the parent chain covers them) ("incremental")
 * end of run: save() -> ckpt-track.json   |  chain end (--freeze) or failure: release() (the tracker
 *                                            leaves nothing in the target: uffd-wp closes its fd)
 * ```
 * The decisions are pure functions in track-decision.ts; everything tracker-specific is behind the
 * DirtyTracker interface (mem/track/tracker.ts): no concrete tracker class is named here.
 *
 * @example
 * const s = TrackingSession.create('auto');        // or TrackingSession.resume(parentDir, 'auto', log)
 * const t = s.planTask(pid, { maps, plan, frozen, parent });
 * ... write t.pages ...
 * writeTrackState(dir, s.save());
 */
import { type ImageDir, isPidReused, PageChain } from '../images/index.js';
import {
  type AddressRange,
  chooseTracker,
  type DirtyTracker,
  type FoundPages,
  findPages,
  normalizeRanges,
  PageRanges,
  type PagesMethod,
  resumeTracker,
  subtractRanges,
  type TrackerChoice,
  type TrackerKind,
  trackableRanges,
  type UffdWpOptions,
  unionRanges,
  type VmaPlan,
} from '../mem/index.js';
import { CLOCK_TICKS, readStartTimeMicros, type Vma } from '../proc/index.js';
import { type FrozenProcess, freeze } from '../ptrace/index.js';
import { KernelUnsupportedError, PAGE_SIZE, PagemapScanner } from '../sys/index.js';
import { DumpError } from './errors.js';
import type { Logger } from './logger.js';
import { type PagePlan, planPages } from './page-plan.js';
import { decideTask, effectiveMode, startProblem } from './track-decision.js';
import { type TrackStateFile, takeTrackState } from './track-state.js';

/** Builds a tracker (not started) for a process: chooseTracker, or a test's fake. */
export type TrackerFactory = (
  choice: TrackerChoice,
  pid: number,
  options: UffdWpOptions,
) => { tracker: DirtyTracker; reason: string };

/** How one process was dumped in one iteration. */
export interface TaskTracking {
  readonly mode: 'full' | 'incremental';
  /** Why a full dump although an incremental one was asked for (parent given), if so. */
  readonly fallback?: string;
  /** Pages reported written by collect() (incremental). */
  readonly pagesWritten: number;
  /** µs the target was stopped by the tracker (start(); soft-dirty's collect). */
  readonly stoppedMicros: number;
}

/** planTask's answer. */
export interface TaskPlan {
  readonly found: FoundPages;
  readonly pages: PagePlan;
  readonly tracking: TaskTracking;
  /** What this collect reported written (ascending; undefined for a full dump: no collect). */
  readonly written?: readonly AddressRange[];
  /**
   * With `precopied`: `pages` is only what the window reads; this makes the full plan (every pass's
   * writes as written), after the thaw.
   */
  readonly complete?: () => PagePlan;
}

/**
 * What the window needs of one process's passes (pre-copy.ts PreCopy.view()): the plan's inputs are the target's; the
 * pre-copy adds what it collected (`extra`) and what it holds.
 */
export interface PrecopyView {
  readonly pid: number;
  /** Ranges to plan as written besides the window's collect (after the thaw: PlanTaskInput.alsoWritten). */
  readonly extra: readonly AddressRange[];
  /**
   * THE FROZEN WINDOW: the pages to read now (see windowRead), from the window's present pages, known
   * ranges, collect and the chain's coverage.
   */
  windowRead(
    present: PageRanges,
    known: readonly AddressRange[],
    written: readonly AddressRange[],
    covered: readonly AddressRange[],
  ): PageRanges;
}

/** Inputs of planTask. */
export interface PlanTaskInput {
  readonly maps: readonly Vma[];
  readonly plan: VmaPlan;
  /** The process, when the dump froze it (start() then injects through it). */
  readonly frozen?: FrozenProcess;
  /** The parent image set (holes only when it has this process's pagemap). */
  readonly parent?: ImageDir;
  /**
   * When the parent's pages went to a page server (no local pagemap): the ranges the parent sent for this
   * process (sent-pages.ts, [] when it sent none); holes are planned only inside them, and the parent's
   * local pagemap, if any, is not consulted. Undefined: the parent's own pagemap decides.
   */
  readonly covered?: readonly AddressRange[];
  readonly pagesMethod?: PagesMethod;
  /**
   * This iteration ends the chain (frozen): the target's userfaultfd is closed BEFORE collect(), so that
   * what the injection itself changes (the kernel rewrites the injected thread's rseq area on its way back
   * to user space) is reported and read; with no tracker yet, no tracking is set up at all.
   */
  readonly endTracking?: boolean;
  /**
   * Ranges to plan as written besides what collect() reports (ascending, disjoint): what the pre-copy
   * passes since the parent collected and copied (pre-copy.ts). They were written since the parent too,
   * and a pass's collect consumed their report: without them they would be planned as parent holes.
   */
  readonly alsoWritten?: readonly AddressRange[];
  /**
   * A pre-copy pass (the target running, the chain going on): only a process already tracked
   * incrementally is planned; undefined for any other (nothing started, nothing dropped). Its present
   * pages are the written ones its collect found present (one page-table walk, not two): the plan's data
   * is what was written and is present; the rest of the delta is read in the window.
   */
  readonly pass?: boolean;
  /**
   * THE FROZEN WINDOW after pre-copy passes (pre-copy.ts): plan only what to read now (the view's
   * windowRead) and leave the full plan to `complete` (needs `covered`).
   */
  readonly precopied?: PrecopyView;
}

/** The trackers of one chain; close() (or release()) when done. */
export class TrackingSession {
  private readonly trackers = new Map<number, DirtyTracker>();
  /** Why each resumed process could not be resumed (reported on its first planTask). */
  private readonly resumeProblems = new Map<number, string>();
  private kindChosen: TrackerKind | undefined;
  private why = '';
  /** Parents' dump_uptime by path (readParent). */
  private readonly uptimes = new Map<string, number | undefined>();

  private constructor(
    readonly choice: TrackerChoice,
    private readonly log: Logger,
    /** Why the session starts without the parent's trackers, if it was asked to resume. */
    readonly fallback?: string,
    private readonly newTracker: TrackerFactory = chooseTracker,
  ) {}

  /** A session without history (first pre-dump of a chain). `newTracker`: for tests (a fake tracker). */
  static create(
    choice: TrackerChoice,
    log: Logger,
    fallback?: string,
    newTracker?: TrackerFactory,
  ): TrackingSession {
    return new TrackingSession(choice, log, fallback, newTracker);
  }

  /**
   * The session of a new pre-dump: resumed from `parent`'s ckpt-track.json when there is a usable one
   * (taking it: it is used once), else a new one that remembers why (its processes are dumped in full).
   */
  static open(choice: TrackerChoice, parent: ImageDir | undefined, log: Logger): TrackingSession {
    if (!parent || choice === 'none') return TrackingSession.create(choice, log);
    const taken = takeTrackState(parent.path);
    if ('reason' in taken) {
      log.warn('tracking starts over (full dump): %s', taken.reason);
      return TrackingSession.create(choice, log, taken.reason);
    }
    return TrackingSession.resume(taken.state, choice, log);
  }

  /** A session continuing from a parent's ckpt-track.json contents (see track-state.ts). */
  static resume(state: TrackStateFile, choice: TrackerChoice, log: Logger): TrackingSession {
    if (choice !== 'auto' && choice !== state.kind) {
      return new TrackingSession(choice, log, `the parent tracked with ${state.kind}, ${choice} asked`);
    }
    const s = new TrackingSession(choice, log);
    for (const [pid, st] of Object.entries(state.tasks)) {
      const r = resumeTracker(state.kind, st);
      if (r.tracker) {
        s.trackers.set(Number(pid), r.tracker);
        s.kindChosen = r.tracker.kind;
        s.why = r.reason;
      } else s.resumeProblems.set(Number(pid), r.reason);
    }
    return s;
  }

  /**
   * Read what planTask will need of `parent` (its dump_uptime): before the freeze, so that the frozen
   * window reads no image. Safe to skip (planTask then reads it itself).
   */
  readParent(parent: ImageDir): void {
    this.parentUptime(parent);
  }

  private parentUptime(parent: ImageDir): number | undefined {
    if (!this.uptimes.has(parent.path)) this.uptimes.set(parent.path, parent.inventory().dump_uptime);
    return this.uptimes.get(parent.path);
  }

  /** The tracker kind in use (known after the first planTask). */
  get kind(): TrackerKind | undefined {
    return this.kindChosen;
  }

  /** Why that kind (chooseTracker's reason). */
  get reason(): string {
    return this.why;
  }

  /** Decide full or incremental for `pid` (track-decision.ts), set tracking up or collect, find the pages. */
  planTask(pid: number, i: PlanTaskInput & { readonly pass: true }): TaskPlan | undefined;
  planTask(pid: number, i: PlanTaskInput): TaskPlan;
  planTask(pid: number, i: PlanTaskInput): TaskPlan | undefined {
    if (this.choice === 'none') {
      this.kindChosen = 'none';
      this.why = 'asked for none';
    }
    const resumeProblem = this.resumeProblems.get(pid);
    this.resumeProblems.delete(pid);
    const t = this.trackers.get(pid);
    const d = decideTask({
      choice: this.choice,
      tracker: t !== undefined,
      resumeProblem,
      sessionFallback: this.fallback,
      parent: i.parent !== undefined,
      sameProcess: t && i.parent ? sameProcess(pid, this.parentUptime(i.parent)) : undefined,
      pid,
      endTracking: i.endTracking === true,
    });
    if (i.pass && (d.drop || d.action !== 'incremental' || resumeProblem !== undefined)) {
      if (resumeProblem !== undefined) this.resumeProblems.set(pid, resumeProblem); // for the real plan
      return undefined;
    }
    if (d.drop) this.drop(pid);
    if (d.action === 'untracked') return this.untracked(pid, i, d.fallback);
    if (d.action === 'start') return this.full(pid, i, d.fallback);
    return this.incremental(pid, t!, i);
  }

  private full(pid: number, i: PlanTaskInput, fallback: string | undefined): TaskPlan {
    let choice: ReturnType<TrackerFactory>;
    try {
      choice = this.newTracker(this.kindChosen ?? this.choice, pid, { persist: true, frozen: i.frozen });
    } catch (e) {
      if (e instanceof KernelUnsupportedError) {
        throw new DumpError('ENOTSUP_KERNEL', `--track-mem ${this.choice}: ${e.message}`, { cause: e });
      }
      throw e;
    }
    const t = choice.tracker;
    if (this.kindChosen === undefined) {
      this.kindChosen = t.kind;
      this.why = choice.reason;
    }
    this.trackers.set(pid, t);
    const stopped = this.underFreeze(pid, t, i.frozen, () => t.start(trackableRanges(i.maps)));
    const problem = startProblem(coverage(t.ranges(), t));
    if (problem) this.log.warn('process %d: %s', pid, problem);
    const found = findPages(pid, i.plan, i.pagesMethod ? { method: i.pagesMethod } : {});
    const why = fallback ?? problem;
    if (fallback) this.log.warn('process %d: full dump: %s', pid, fallback);
    return {
      found,
      pages: { data: found.ranges, holes: new PageRanges() },
      tracking: {
        mode: 'full',
        fallback: why,
        pagesWritten: 0,
        stoppedMicros: stopped + t.setupStoppedMicros,
      },
    };
  }

  /** A full dump without setting tracking up (the chain ends here anyway, or none was asked). */
  private untracked(pid: number, i: PlanTaskInput, fallback: string | undefined): TaskPlan {
    const found = findPages(pid, i.plan, i.pagesMethod ? { method: i.pagesMethod } : {});
    if (fallback) this.log.warn('process %d: full dump: %s', pid, fallback);
    return {
      found,
      pages: { data: found.ranges, holes: new PageRanges() },
      tracking: { mode: 'full', fallback, pagesWritten: 0, stoppedMicros: 0 },
    };
  }

  private incremental(pid: number, t: DirtyTracker, i: PlanTaskInput): TaskPlan {
    if (i.endTracking && i.frozen) t.endInTarget(i.frozen);
    const fresh = subtractRanges(trackableRanges(i.maps), [...t.ranges(), ...t.untrackedRanges()]);
    if (fresh.length > 0) t.add(fresh);
    const known: AddressRange[] = subtractRanges(t.knownRanges(), fresh);
    const mode = effectiveMode(coverage(known, t));
    const written: { start: number; end: number }[] = [];
    /** A pass: the written pages the collect found present (its one walk; see below). */
    const writtenPresent: { start: number; end: number }[] = [];
    let ascending = true;
    let pages = 0;
    const method = i.pagesMethod ?? (PagemapScanner.supported() ? 'scan' : 'pagemap');
    // the chain's end, frozen: the last collect re-arms nothing, so the walk that finds the present pages
    // tells which were written too (uffd-wp only: a page not write-protected is written, the VMAs
    // nobody armed included, as the collect reports them); one walk of the memory instead of two
    const last = i.endTracking === true && i.frozen !== undefined;
    if (last && !i.pass && t.kind === 'uffd-wp' && method === 'scan') {
      const found = findPages(pid, i.plan, {
        method,
        onWritten: (start, end) => {
          written.push({ start, end });
          pages += (end - start) / PAGE_SIZE;
        },
      });
      return this.plan(pid, i, mode, found, normalizeRanges(written), pages, 0, known);
    }
    const stopped = this.underFreeze(pid, t, i.frozen, () => {
      // a scan reports in ascending order: merge as it comes, sort only if it did not
      pages = t.collect(
        (start, end, present) => {
          if (i.pass && present) {
            const p = writtenPresent[writtenPresent.length - 1];
            if (p && p.end === start) p.end = end;
            else writtenPresent.push({ start, end });
          }
          const prev = written[written.length - 1];
          if (prev && prev.end === start) prev.end = end;
          else {
            if (prev && start < prev.end) ascending = false;
            written.push({ start, end });
          }
        },
        { last },
      ).pages;
    });
    // a pre-copy pass reads what was written and is present, which its collect's walk already says: no
    // second walk of every page (findPages). What a pass does not read is read in the window (pages of
    // VMAs new since the parent: not covered; written and swapped out: in the passes' `extra`, not held)
    const found = i.pass
      ? passPages(ascending ? writtenPresent : normalizeRanges(writtenPresent), i.pagesMethod)
      : findPages(pid, i.plan, i.pagesMethod ? { method: i.pagesMethod } : {});
    const collected = ascending ? written : normalizeRanges(written);
    return this.plan(pid, i, mode, found, collected, pages, stopped, known);
  }

  /** An incremental task's plan from what its collect and its walk found. */
  private plan(
    pid: number,
    i: PlanTaskInput,
    mode: ReturnType<typeof effectiveMode>,
    found: FoundPages,
    collected: AddressRange[],
    pages: number,
    stopped: number,
    known: AddressRange[],
  ): TaskPlan {
    if (mode.fallback) this.log.warn('process %d: full dump: %s', pid, mode.fallback);
    let chain: PageChain | undefined;
    if (i.covered === undefined && i.parent?.hasPagemap(pid)) chain = new PageChain(i.parent, pid);
    try {
      const v = i.precopied;
      const covered = i.covered;
      if (v && covered) {
        return {
          found,
          pages: { data: v.windowRead(found.ranges, known, collected, covered), holes: new PageRanges() },
          tracking: { ...mode, pagesWritten: pages, stoppedMicros: stopped },
          written: collected,
          complete: () =>
            planPages({ present: found.ranges, known, written: unionRanges(collected, v.extra), covered }),
        };
      }
      const planned = planPages({
        present: found.ranges,
        known,
        written: i.alsoWritten?.length ? unionRanges(collected, i.alsoWritten) : collected,
        parent: chain,
        covered: i.covered,
      });
      return {
        found,
        pages: planned,
        tracking: { ...mode, pagesWritten: pages, stoppedMicros: stopped },
        written: collected,
      };
    } finally {
      chain?.close();
    }
  }

  /** Run `f` with the target frozen if the tracker needs it and the dump did not freeze; µs stopped. */
  private underFreeze(
    pid: number,
    t: DirtyTracker,
    frozen: FrozenProcess | undefined,
    f: () => void,
  ): number {
    if (!t.needsFreeze || frozen) {
      f();
      return 0;
    }
    const fz = freeze(pid);
    try {
      f();
    } finally {
      fz.thaw();
    }
    return fz.stats.stoppedMicros;
  }

  /** Forget a process's tracker (our side only: for a process that is gone or is not the same one). */
  drop(pid: number): void {
    this.trackers.get(pid)?.close();
    this.trackers.delete(pid);
  }

  /** Forget the trackers of processes not in `pids` (they exited). */
  keepOnly(pids: readonly number[]): void {
    for (const pid of [...this.trackers.keys()]) if (!pids.includes(pid)) this.drop(pid);
  }

  /** The state to store for the next run; undefined when nothing carries over (see track-state.ts). */
  save(): TrackStateFile | undefined {
    const kind = this.kindChosen;
    if (kind === undefined || kind === 'none') return undefined;
    const tasks: Record<string, unknown> = {};
    for (const [pid, t] of this.trackers) {
      const st = t.save();
      if (st !== undefined) tasks[String(pid)] = st;
    }
    if (Object.keys(tasks).length === 0) return undefined;
    return { format: 'ckpt-track', version: 1, kind, tasks };
  }

  /**
   * End tracking: leave nothing in the targets (uffd-wp: close their userfaultfds by injection, through
   * `frozen` when given; collapse the huge pages tracking split) and close our side. For the chain's end
   * (--freeze) and for failures. Never throws (a target that exited is fine).
   */
  release(frozen?: ReadonlyMap<number, FrozenProcess>): void {
    for (const [pid, t] of this.trackers) {
      try {
        t.release(frozen?.get(pid));
      } catch (e) {
        this.log.warn('process %d: could not end tracking: %s', pid, (e as Error).message);
        t.close();
      }
    }
    this.trackers.clear();
  }

  /** Close our side only (the targets keep their userfaultfds for a later run). Safe to call twice. */
  close(): void {
    for (const t of this.trackers.values()) t.close();
    this.trackers.clear();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A pre-copy pass's present pages: the written ones its collect found present (ascending). */
function passPages(ranges: readonly AddressRange[], method: PagesMethod | undefined): FoundPages {
  const r = new PageRanges();
  for (const x of ranges) r.push(x.start, x.end);
  return { ranges: r, pagesScanned: 0, deferred: [], guards: 0, method: method ?? 'scan' };
}

/** Is `pid` the process the parent dumped? (start time vs the parent's dump_uptime, as CRIU.) */
function sameProcess(pid: number, uptime: number | undefined): 'same' | 'reused' | 'unknown' {
  if (uptime === undefined) return 'unknown';
  const ticks = Math.round((readStartTimeMicros(pid) * CLOCK_TICKS) / 1e6);
  return isPidReused(ticks, uptime, CLOCK_TICKS) ? 'reused' : 'same';
}

/** What `t` covers, for the mode decisions (track-decision.ts). */
function coverage(known: readonly AddressRange[], t: DirtyTracker) {
  const untracked = t.untrackedRanges().length;
  return { known: known.length, untracked, untrackedReason: t.untrackedReason };
}
