/**
 * One process of a dump, scanned: threads, VMAs (mem/planVmas), present pages (mem/findPages), and with
 * tracking the pages to write as data or as PE_PARENT holes (TrackingSession.planTask: collect the written
 * set). With a frozen tree this runs inside the frozen window: it reads /proc and the page tables and
 * allocates only what the plan itself is.
 *
 * ```
 * /proc/PID/maps -> planVmas -> (tracking: planTask = collect + findPages + planPages | findPages)
 *   -> TaskScan { plan, found, pages: { data, holes }, tracking }
 * ```
 * A descendant that exited before its scan is left out (undefined, logged); the root's exit is ESRCH.
 * The process's identity (proc/readIdentity) is taken first: the driver compares it after the copy (an
 * exec meanwhile fails the dump), and a pid the parent recorded as another program is dumped in full.
 *
 * @example
 * const t = scanTask(pid, { root: true, log });
 * t?.pages.data.pages; // pages to read
 */
import type { ImageDir } from '../images/index.js';
import {
  type AddressRange,
  type FoundPages,
  findPages,
  PageRanges,
  type PagesMethod,
  planVmas,
  type VmaPlan,
} from '../mem/index.js';
import {
  hasExited,
  listThreads,
  ProcError,
  type ProcessIdentity,
  readIdentity,
  readMaps,
  readStatus,
  sameProgram,
} from '../proc/index.js';
import type { FrozenProcess } from '../ptrace/index.js';
import { DumpError, dumpErrorFrom } from './errors.js';
import type { Logger } from './logger.js';
import type { PagePlan } from './page-plan.js';
import type { PreCopy } from './pre-copy.js';
import type { SentPages } from './sent-pages.js';
import type { TaskTracking, TrackingSession } from './tracking.js';

/** One process of the tree, planned and scanned. */
export interface TaskScan {
  readonly pid: number;
  readonly threads: number;
  readonly vmas: number;
  readonly plan: VmaPlan;
  readonly found: FoundPages;
  /** Pages to write: data and PE_PARENT holes. */
  readonly pages: PagePlan;
  readonly tracking?: TaskTracking;
  /** The process as frozen for this dump, if it is. */
  readonly frozen?: FrozenProcess;
  /** Which process and program, taken before its maps (compared after the copy and by the next dump). */
  readonly identity: ProcessIdentity;
  /** Set when the parent's record of this pid is another program (exec) or process: dumped in full. */
  readonly changed?: string;
  /** What the tracker's collect reported written, when the plan came from one (pre-copy.ts). */
  readonly written?: readonly AddressRange[];
  /** After pre-copy passes: `pages` is what the window reads; this is the full plan (after the thaw). */
  readonly complete?: () => PagePlan;
}

export interface ScanContext {
  /** The dump's root (its exit fails the dump; a descendant's only drops it). */
  readonly root: boolean;
  readonly log: Logger;
  readonly frozen?: FrozenProcess;
  readonly pagesMethod?: PagesMethod;
  readonly session?: TrackingSession;
  readonly parent?: ImageDir;
  /** What the parent chain holds per process (indexed before the freeze; a page server: what it sent). */
  readonly sent?: SentPages;
  /** This dump ends the tracking chain (frozen): see PlanTaskInput.endTracking. */
  readonly endTracking?: boolean;
  /** The parent's record of this pid (process-ids.ts), if any. */
  readonly known?: ProcessIdentity;
  /** Every process of this dump (a changed one's tracker is dropped by keeping the others'). */
  readonly dumpPids: readonly number[];
  /** The pre-copy passes' held pages (frozen, at the chain's end): PlanTaskInput.precopied. */
  readonly precopy?: PreCopy;
}

const hex = (n: number) => `0x${n.toString(16)}`;
const usSince = (t: bigint) => Math.round(Number(process.hrtime.bigint() - t) / 1000);

/** Scan one process; undefined for a descendant that exited (see the module comment). */
export function scanTask(pid: number, c: ScanContext): TaskScan | undefined {
  const { log, frozen } = c;
  try {
    const identity = readIdentity(pid);
    let changed: string | undefined;
    if (c.known && !sameProgram(c.known, identity)) {
      changed =
        c.known.startTime !== identity.startTime
          ? `pid ${pid} is another process than in the parent`
          : 'it ran a new program (exec) since the parent';
      // never PE_PARENT holes into another program's pages: its tracker (if any) is void
      c.session?.keepOnly(c.dumpPids.filter((p) => p !== pid));
      log.warn('process %d: full dump: %s', pid, changed);
    }
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
    let written: readonly AddressRange[] | undefined;
    let complete: (() => PagePlan) | undefined;
    if (c.session) {
      const t = c.session.planTask(pid, {
        maps: vmas,
        plan,
        frozen,
        parent: changed ? undefined : c.parent,
        covered: c.sent && !changed ? (c.sent.get(pid) ?? []) : undefined,
        pagesMethod: c.pagesMethod,
        endTracking: frozen !== undefined && c.endTracking === true,
        precopied: changed || !frozen ? undefined : c.precopy?.view(pid, identity),
      });
      ({ found, pages, tracking, written, complete } = t);
      log.info(
        'process %d: %s dump (%s): %d written, %d pages as data, %d as parent holes, stopped %d us',
        pid,
        t.tracking.mode,
        c.session.kind ?? '-',
        t.tracking.pagesWritten,
        t.pages.data.pages,
        t.pages.holes.pages,
        t.tracking.stoppedMicros,
      );
    } else {
      found = findPages(pid, plan, c.pagesMethod ? { method: c.pagesMethod } : {});
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
    return {
      pid,
      threads,
      vmas: vmas.length,
      plan,
      found,
      pages,
      tracking,
      frozen,
      identity,
      changed,
      written,
      complete,
    };
  } catch (e) {
    let err = dumpErrorFrom(e, pid);
    // a process that exits mid-scan fails where it is (pagemap gives EIO once its memory is gone); a
    // frozen child caught while exiting (a forking server's worker: its memory already released) too
    if (err instanceof DumpError && err.code !== 'ESRCH' && (frozen ? memoryGone(pid) : hasExited(pid))) {
      err = new DumpError('ESRCH', `process ${pid} exited during the dump`, { cause: e });
    }
    if (!c.root && err instanceof DumpError && err.code === 'ESRCH') {
      log.warn('process %d exited before its pages were scanned', pid);
      return undefined;
    }
    throw err;
  }
}

/** Whether `pid` has no memory left (exited, or exiting past the release of its address space). */
function memoryGone(pid: number): boolean {
  try {
    return hasExited(pid) || readMaps(pid).length === 0;
  } catch {
    return true;
  }
}

/**
 * After a running process's copy: the same program as at its scan, or the dump fails (its images would
 * mix two programs). A process that exited after its copy is fine: what was copied is one program's.
 */
export function checkSameProgram(pid: number, before: ProcessIdentity): void {
  const now = settledIdentity(pid);
  if (now === undefined || sameProgram(before, now)) return;
  throw new DumpError(
    'ESRCH',
    now.startTime !== before.startTime
      ? `process ${pid} exited during the dump and its pid was reused`
      : `process ${pid} ran a new program (exec) during the dump: its images would mix two programs`,
  );
}

/** Layout marks of a process without an address space (exiting, or between two programs in exec). */
const NO_MM = /^[0,]*$/;

/**
 * The identity of `pid` once it has an address space again (a process that is exiting or in the middle
 * of an exec shows none for a moment: wait up to 200 ms for it to become a zombie or the new program);
 * undefined when it is gone.
 */
function settledIdentity(pid: number): ProcessIdentity | undefined {
  const deadline = Date.now() + 200;
  for (;;) {
    let id: ProcessIdentity;
    try {
      id = readIdentity(pid);
    } catch (e) {
      if (e instanceof ProcError && e.code === 'ESRCH') return undefined;
      throw e;
    }
    if (!NO_MM.test(id.mm) || Date.now() > deadline) return id;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
  }
}
