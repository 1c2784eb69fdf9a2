/**
 * What one dump did: counts, times (µs, as CRIU's stats-dump) and what was left for later, built in one
 * place for every page source (resultOf), and its conversion to CRIU's `dump_stats_entry`.
 *
 * @example
 * dir.writeStats(toDumpStatsEntry(result));
 */
import type { DumpStatsEntry } from '../images/index.js';
import type { DeferReason, PagesMethod, TrackerKind } from '../mem/index.js';
import type { HeldFigures } from './held-pages.js';
import type { SourceFigures, SpliceResult, TaskPages } from './page-source.js';
import type { PassFigures } from './pre-copy.js';
import type { TaskScan } from './task-scan.js';
import type { TrackingSession } from './tracking.js';

/** A VMA left for a later (frozen) dump, with the reason and its present pages. */
export interface DeferredVma {
  /** The process it belongs to. */
  readonly pid: number;
  readonly start: number;
  readonly end: number;
  readonly path: string;
  readonly reason: DeferReason;
  /** Present pages left in it for a later dump. */
  readonly pages: number;
}

/**
 * The statistics of one pre-dump (also printed by `ckpt pre-dump --json`).
 *
 * @example
 * const r: PreDumpResult = await preDump({ pid, imagesDir });
 * console.log(r.pagesWritten, r.deferred.length);
 */
export interface PreDumpResult extends DumpCounts {
  /** The root of the tree dumped. */
  readonly pid: number;
  /** The page source: 'read' (process_vm_readv) or 'splice' (vmsplice into pipes, frozen). */
  readonly mode?: 'read' | 'splice';
  /** The image directory, or null for a dry run. */
  readonly imagesDir: string | null;
  /** Processes dumped (the root and its descendants); the DumpCounts are their sums. */
  readonly processes: number;
  readonly bytesWritten: number;
  readonly method: PagesMethod;
  readonly bufferSize: number;
  readonly readCalls: number;
  readonly faults: number;
  readonly frozen: boolean;
  /** µs to freeze the tree (every process and thread). */
  readonly freezingTime: number;
  /** µs the tree was stopped by the dump's freeze: from the first seize to the thaw (or to now). */
  readonly frozenTime: number;
  /** µs the target was stopped in all: frozenTime, and the tracker's setup (injected syscalls). */
  readonly stoppedTime?: number;
  /**
   * µs collecting what to copy (maps, the tracker's written set, present pages, the plan): inside the
   * frozen window when frozen.
   */
  readonly collectTime?: number;
  /** µs copying the pages (frozen read mode: into memory; else read and written). */
  readonly copyTime?: number;
  /** µs ending tracking on our side at the chain's end (after the thaw; the targets' side is in the scan). */
  readonly endTrackingTime?: number;
  /** Page bytes the frozen copy held in memory when the tree was thawed (written after the thaw). */
  readonly heldBytes?: number;
  /** Page bytes written while frozen because the held copy reached its cap (0: none). */
  readonly spilledBytes?: number;
  /** The held copy in detail (frozen read mode). */
  readonly hold?: HeldFigures;
  /** The pre-copy passes before the freeze (pre-copy.ts), when they ran. */
  readonly preCopy?: PreCopyResult;
  /** Memory tracking: which tracker, why, and how each process was dumped; null without tracking. */
  readonly tracking?: TrackingResult | null;
  readonly memdumpTime: number;
  readonly memwriteTime: number;
  readonly totalTime: number;
  /** Per process. */
  readonly tasks: readonly TaskResult[];
  /** Splice mode: what the pipes used. */
  readonly splice?: SpliceResult;
  /** Descendants seen in the tree that exited before they could be frozen or scanned (left out). */
  readonly exited?: readonly number[];
}

/** What the pre-copy passes did (dump/pre-copy.ts). */
export interface PreCopyResult {
  /** Each pass: pages its collect reported written, pages copied, bytes held after, µs. */
  readonly passes: readonly PassFigures[];
  /** Page bytes held from the passes when the tree was frozen. */
  readonly heldBytes: number;
  /** Why the passes stopped (e.g. 'the delta stopped shrinking'), or dropped what they held (the cap). */
  readonly stop: string;
}

/**
 * What a pre-dump counts, for one process (TaskResult, SpliceTaskResult) and summed over the tree
 * (PreDumpResult).
 *
 * @example
 * const c: DumpCounts = r.tasks[0]!;
 * console.log(c.pagesPresent, c.pagesWritten, c.pagesSkipped);
 */
export interface DumpCounts {
  readonly threads: number;
  readonly vmas: number;
  /** Pages spanned by the VMAs dumped (CRIU's pages_scanned). */
  readonly pagesScanned: number;
  /** Pages found present (to read). */
  readonly pagesPresent: number;
  readonly pagesWritten: number;
  /** Pages found present but gone or unreadable when read (left out, never written as zeroes). */
  readonly pagesSkipped: number;
  /**
   * Pages left to the parent image set as PE_PARENT holes (CRIU's pages_skipped_parent); absent from
   * page sources without tracking, e.g. splice mode.
   */
  readonly pagesSkippedParent?: number;
  readonly deferred: readonly DeferredVma[];
  readonly guardVmas: number;
}

/** One process of a pre-dump. */
export interface TaskResult extends DumpCounts {
  readonly pid: number;
  /** 'incremental': written pages + parent holes; 'full': every present page. */
  readonly mode?: 'full' | 'incremental';
  /** Why full although a parent was given. */
  readonly fallback?: string;
  /** µs this process was stopped by its tracker (not counting --freeze). */
  readonly stoppedTime?: number;
}

/** The tracking part of a PreDumpResult. */
export interface TrackingResult {
  readonly kind: TrackerKind;
  /** Why this tracker (e.g. 'async userfaultfd write-protect'). */
  readonly reason: string;
  /** Processes dumped incrementally / in full. */
  readonly incremental: number;
  readonly full: number;
  /** Why processes were dumped in full although a parent was given. */
  readonly fallbacks: readonly string[];
}

/**
 * The stats-dump entry of a result (CRIU's field names; times in µs).
 *
 * @example
 * toDumpStatsEntry(r).pages_written === r.pagesWritten; // true
 */
export function toDumpStatsEntry(r: PreDumpResult): DumpStatsEntry {
  return {
    freezing_time: r.freezingTime,
    frozen_time: r.frozenTime,
    memdump_time: r.memdumpTime,
    memwrite_time: r.memwriteTime,
    pages_scanned: r.pagesScanned,
    pages_skipped_parent: r.pagesSkippedParent ?? 0,
    pages_written: r.pagesWritten,
    pages_lazy: 0,
  };
}

/**
 * One process's result: what its scan found and what the page source wrote.
 *
 * @example
 * const r = taskResult(scan, source.taskPages(scan.pid));
 */
export function taskResult(t: TaskScan, p: TaskPages): TaskResult {
  return {
    pid: t.pid,
    threads: t.threads,
    vmas: t.vmas,
    pagesScanned: t.found.pagesScanned,
    pagesPresent: t.found.ranges.pages,
    pagesWritten: p.pagesWritten,
    pagesSkipped: p.pagesSkipped,
    pagesSkippedParent: p.holePages,
    mode: p.refused || t.changed ? 'full' : (t.tracking?.mode ?? 'full'),
    fallback: p.refused ?? t.changed ?? t.tracking?.fallback,
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
  };
}

/** The inputs of resultOf: what the driver measured and what the page source reports. */
export interface ResultInputs {
  readonly pid: number;
  readonly imagesDir: string | null;
  readonly mode: 'read' | 'splice';
  readonly tasks: readonly TaskResult[];
  /** Pages planned as data (with holes a receiver refused). */
  readonly pagesPresent: number;
  readonly bytesWritten: number;
  readonly method: PagesMethod;
  readonly figures: SourceFigures;
  /** Whether the dump ran frozen. */
  readonly frozen: boolean;
  readonly freezingTime: number;
  /** 0 when not frozen. */
  readonly frozenTime: number;
  /** µs scanning the processes (maps, pages, the tracker's collect). */
  readonly scanUs: number;
  /** µs copying (capture's copy of every process). */
  readonly copyUs?: number;
  /** ns closing the page session. */
  readonly closeNs: number;
  readonly session?: TrackingSession;
  /** Descendants left out because they exited. */
  readonly exited: readonly number[];
  /** hrtime at the start of the dump. */
  readonly t0: bigint;
}

/**
 * The result of a dump, summed over its processes (the one place results are built).
 *
 * @example
 * const r = resultOf({ pid, imagesDir, mode: 'read', tasks, ... });
 */
export function resultOf(i: ResultInputs): PreDumpResult {
  const sum = (f: (r: TaskResult) => number) => i.tasks.reduce((n, r) => n + f(r), 0);
  const f = i.figures;
  return {
    pid: i.pid,
    mode: i.mode,
    imagesDir: i.imagesDir,
    processes: i.tasks.length,
    threads: sum((r) => r.threads),
    vmas: sum((r) => r.vmas),
    pagesScanned: sum((r) => r.pagesScanned),
    pagesPresent: i.pagesPresent,
    pagesWritten: sum((r) => r.pagesWritten),
    pagesSkipped: sum((r) => r.pagesSkipped),
    pagesSkippedParent: sum((r) => r.pagesSkippedParent ?? 0),
    bytesWritten: i.bytesWritten,
    deferred: i.tasks.flatMap((r) => r.deferred),
    guardVmas: sum((r) => r.guardVmas),
    method: i.method,
    bufferSize: f.bufferSize,
    readCalls: f.readCalls,
    faults: f.faults,
    frozen: i.frozen,
    freezingTime: i.freezingTime,
    frozenTime: i.frozenTime,
    stoppedTime: i.frozenTime + sum((r) => r.stoppedTime ?? 0),
    collectTime: i.scanUs,
    copyTime: i.copyUs ?? 0,
    endTrackingTime: 0,
    heldBytes: f.held?.heldBytes ?? 0,
    spilledBytes: f.held?.spilledBytes ?? 0,
    ...(f.held ? { hold: f.held } : {}),
    tracking: trackingResult(i.session, i.tasks),
    memdumpTime: i.scanUs + Math.round(f.copyNs / 1000),
    memwriteTime: Math.round((f.writeNs + i.closeNs) / 1000),
    totalTime: Math.round(Number(process.hrtime.bigint() - i.t0) / 1000),
    tasks: i.tasks,
    exited: i.exited,
    ...(f.splice ? { splice: f.splice } : {}),
  };
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
