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
 * end of run: save() -> ckpt-track.json   |  chain end (--freeze) or failure: release() (closes the
 *                                            target's userfaultfd by injection)
 * ```
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
  stateMismatch,
  subtractRanges,
  type TrackerChoice,
  type TrackerKind,
  trackableRanges,
  UffdWpTracker,
  type VmaPlan,
} from '../mem/index.js';
import { CLOCK_TICKS, readStartTimeMicros, type Vma } from '../proc/index.js';
import { type FrozenProcess, freeze, Injector } from '../ptrace/index.js';
import { KernelUnsupportedError, PAGE_IS, PagemapScanner, SYS } from '../sys/index.js';
import { DumpError } from './errors.js';
import type { Logger } from './logger.js';
import { type PagePlan, planPages } from './page-plan.js';
import { type TrackStateFile, takeTrackState } from './track-state.js';

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
}

const UNREGISTERED = {
  categoryInverted: PAGE_IS.WPALLOWED,
  categoryMask: PAGE_IS.WPALLOWED,
  returnMask: PAGE_IS.WPALLOWED,
};

/** The trackers of one chain; close() (or release()) when done. */
export class TrackingSession {
  private readonly trackers = new Map<number, DirtyTracker>();
  /** Why each resumed process could not be resumed (reported on its first planTask). */
  private readonly resumeProblems = new Map<number, string>();
  /** Trackers whose userfaultfd the target no longer holds (closeInTarget). */
  private readonly closedInTarget = new Set<DirtyTracker>();
  private kindChosen: TrackerKind | undefined;
  private why = '';

  private constructor(
    readonly choice: TrackerChoice,
    private readonly log: Logger,
    /** Why the session starts without the parent's trackers, if it was asked to resume. */
    readonly fallback?: string,
  ) {}

  /** A session without history (first pre-dump of a chain). */
  static create(choice: TrackerChoice, log: Logger, fallback?: string): TrackingSession {
    return new TrackingSession(choice, log, fallback);
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
    if (state.kind !== 'uffd-wp') {
      return new TrackingSession(choice, log, `${state.kind} tracking does not carry over between runs`);
    }
    const s = new TrackingSession(choice, log);
    for (const [pid, st] of Object.entries(state.tasks)) {
      const r = UffdWpTracker.resume(st);
      if (r.tracker) {
        s.trackers.set(Number(pid), r.tracker);
        s.kindChosen = 'uffd-wp';
        s.why = 'async userfaultfd write-protect (resumed)';
      } else s.resumeProblems.set(Number(pid), r.reason);
    }
    return s;
  }

  /** The tracker kind in use (known after the first planTask). */
  get kind(): TrackerKind | undefined {
    return this.kindChosen;
  }

  /** Why that kind (chooseTracker's reason). */
  get reason(): string {
    return this.why;
  }

  /** Decide full or incremental for `pid`, set tracking up or collect, and find the pages to write. */
  planTask(pid: number, i: PlanTaskInput): TaskPlan {
    if (this.choice === 'none') {
      // nothing to track: every iteration is a full dump (findPages sees every present page anyway)
      this.kindChosen = 'none';
      this.why = 'asked for none';
      return this.untracked(pid, i, undefined);
    }
    let t = this.trackers.get(pid);
    let fallback = this.resumeProblems.get(pid) ?? (t ? undefined : this.fallback);
    this.resumeProblems.delete(pid);
    if (t && i.parent) {
      const uptime = i.parent.inventory().dump_uptime;
      const ticks = Math.round((readStartTimeMicros(pid) * CLOCK_TICKS) / 1e6);
      if (uptime === undefined || isPidReused(ticks, uptime, CLOCK_TICKS)) {
        fallback =
          uptime === undefined
            ? 'the parent has no dump_uptime (pid reuse cannot be ruled out)'
            : `pid ${pid} was reused since the parent`;
        this.drop(pid);
        t = undefined;
      }
    }
    if (i.parent && !t && !fallback) fallback = 'no tracker for this process yet';
    if (!t && i.endTracking) return this.untracked(pid, i, fallback);
    if (!t) return this.full(pid, i, fallback);
    return this.incremental(pid, t, i);
  }

  private full(pid: number, i: PlanTaskInput, fallback: string | undefined): TaskPlan {
    let choice: ReturnType<typeof chooseTracker>;
    try {
      choice = chooseTracker(this.kindChosen ?? this.choice, pid, { persist: true, frozen: i.frozen });
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
    const setup = t instanceof UffdWpTracker ? t.setup.stoppedMicros : 0;
    const found = findPages(pid, i.plan, i.pagesMethod ? { method: i.pagesMethod } : {});
    if (fallback) this.log.warn('process %d: full dump: %s', pid, fallback);
    return {
      found,
      pages: { data: found.ranges, holes: new PageRanges() },
      tracking: { mode: 'full', fallback, pagesWritten: 0, stoppedMicros: stopped + setup },
    };
  }

  /** A full dump without setting tracking up (the chain ends here anyway). */
  private untracked(pid: number, i: PlanTaskInput, fallback: string | undefined): TaskPlan {
    const found = findPages(pid, i.plan, i.pagesMethod ? { method: i.pagesMethod } : {});
    if (fallback) this.log.warn('process %d: full dump: %s', pid, fallback);
    return {
      found,
      pages: { data: found.ranges, holes: new PageRanges() },
      tracking: { mode: 'full', fallback, pagesWritten: 0, stoppedMicros: 0 },
    };
  }

  /** Close the target's userfaultfd (by injection, target frozen); our copy keeps tracking alive. */
  private closeInTarget(t: UffdWpTracker, frozen: FrozenProcess): void {
    const st = t.save();
    if (stateMismatch(st) === null) {
      using inj = Injector.infect(frozen);
      inj.call('close', SYS.close, st.fd);
    }
    this.closedInTarget.add(t);
  }

  private incremental(pid: number, t: DirtyTracker, i: PlanTaskInput): TaskPlan {
    if (i.endTracking && i.frozen && t instanceof UffdWpTracker) this.closeInTarget(t, i.frozen);
    const untracked = t instanceof UffdWpTracker ? t.untrackedRanges() : [];
    const fresh = subtractRanges(trackableRanges(i.maps), [...t.ranges(), ...untracked]);
    if (fresh.length > 0) t.add(fresh);
    let known: AddressRange[] = subtractRanges(t.ranges(), fresh);
    if (t.kind === 'uffd-wp') known = subtractRanges(known, unregistered(pid, known));
    const written: AddressRange[] = [];
    let pages = 0;
    const stopped = this.underFreeze(pid, t, i.frozen, () => {
      pages = t.collect((start, end) => written.push({ start, end })).pages;
    });
    const found = findPages(pid, i.plan, i.pagesMethod ? { method: i.pagesMethod } : {});
    let chain: PageChain | undefined;
    if (i.covered === undefined && i.parent?.hasPagemap(pid)) chain = new PageChain(i.parent, pid);
    try {
      const planned = planPages({
        present: found.ranges,
        known,
        written: normalizeRanges(written),
        parent: chain,
        covered: i.covered,
      });
      return {
        found,
        pages: planned,
        tracking: { mode: 'incremental', pagesWritten: pages, stoppedMicros: stopped },
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

  /** The state to store for the next run (uffd-wp trackers only); undefined when nothing carries over. */
  save(): TrackStateFile | undefined {
    if (this.kindChosen !== 'uffd-wp') return undefined;
    const tasks: Record<string, unknown> = {};
    for (const [pid, t] of this.trackers) if (t instanceof UffdWpTracker) tasks[String(pid)] = t.save();
    return { format: 'ckpt-track', version: 1, kind: 'uffd-wp', tasks };
  }

  /**
   * End tracking: close the targets' userfaultfds (by injection, through `frozen` when given) and our
   * side. For the chain's end (--freeze) and for failures. Never throws (a target that exited is fine).
   */
  release(frozen?: ReadonlyMap<number, FrozenProcess>): void {
    for (const [pid, t] of this.trackers) {
      try {
        if (t instanceof UffdWpTracker && !this.closedInTarget.has(t)) t.release(frozen?.get(pid));
        else t.close();
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

/** Parts of `ranges` whose VMAs are not uffd-wp registered (unmapped and mapped again, mremapped in). */
function unregistered(pid: number, ranges: readonly AddressRange[]): AddressRange[] {
  const out: AddressRange[] = [];
  using s = PagemapScanner.open(pid);
  for (const r of ranges) s.scan(r.start, r.end, UNREGISTERED, (start, end) => out.push({ start, end }));
  return out;
}
