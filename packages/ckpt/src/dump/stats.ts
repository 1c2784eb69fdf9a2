/**
 * What one pre-dump did: counts, times (µs, as CRIU's stats-dump) and what was left for later, and its
 * conversion to CRIU's `dump_stats_entry`.
 *
 * @example
 * dir.writeStats(toDumpStatsEntry(result));
 */
import type { DumpStatsEntry } from '../images/index.js';
import type { DeferReason, PagesMethod, TrackerKind } from '../mem/index.js';

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
  /** µs */
  readonly freezingTime: number;
  readonly frozenTime: number;
  /** µs the target was stopped in all: frozenTime, or the tracker's setup (injected syscalls). */
  readonly stoppedTime?: number;
  /** Memory tracking: which tracker, why, and how each process was dumped; null without tracking. */
  readonly tracking?: TrackingResult | null;
  readonly memdumpTime: number;
  readonly memwriteTime: number;
  readonly totalTime: number;
  /** Per process. */
  readonly tasks: readonly TaskResult[];
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
