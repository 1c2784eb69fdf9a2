/**
 * How a dump takes the pages of its processes: a small interface with one file per variant, driven by
 * pipeline.ts (DumpPipeline).
 *
 * ```
 *                 before the freeze        frozen window (if frozen)            after the thaw
 * read-source     allocate the buffer      copy(): process_vm_readv -> session  (nothing left)
 * splice-source   nofile limit, site       copy(): infect, vmsplice into pipes  drain(): pipes -> session
 * ```
 * copy() runs once per process, in the frozen window when the dump is frozen (it says what it holds the
 * targets stopped for); drain() once after the thaw; taskPages(pid) and figures() after drain(). close() is
 * safe twice and releases what a failed dump left (pipes, buffers).
 *
 * @example
 * using source = new ReadSource(pid, { bufferSize, log });
 * for (const t of tasks) await source.copy(t, session, progress);
 * await source.drain(session, progress);
 */
import type { DumpStatsEntry } from '../images/index.js';
import type { SpliceStats } from '../mem/splice.js';
import type { PageSink } from '../xfer/index.js';
import type { HeldFigures } from './held-pages.js';
import type { PlannedItem } from './pre-copy.js';
import type { TaskScan } from './task-scan.js';

/** What a source wrote for one process. */
export interface TaskPages {
  readonly pagesWritten: number;
  /** Present pages it could not take (gone, unreadable): left out, never written as zeroes. */
  readonly pagesSkipped: number;
  /** PE_PARENT holes written. */
  readonly holePages: number;
  /** Why the process went in full although it was planned incremental (the receiver lacks its parent). */
  readonly refused?: string;
}

/** What the pipes of a splice dump used. */
export interface SpliceResult extends SpliceStats {
  /** Bytes held in pipes at the peak (all of them: nothing is written before the thaw). */
  readonly peakPipeBytes: number;
  /** Our RLIMIT_NOFILE soft limit during the dump. */
  readonly nofileLimit: number;
}

/** A source's figures for the result and stats-dump. */
export interface SourceFigures {
  /** The read buffer (splice: the largest pipe). */
  readonly bufferSize: number;
  /** process_vm_readv calls (splice: vmsplice calls). */
  readonly readCalls: number;
  readonly faults: number;
  /** Taking the pages out of the targets, ns (CRIU's memdump_time, with the scan). */
  readonly copyNs: number;
  /** Writing them into the session, ns (CRIU's memwrite_time). */
  readonly writeNs: number;
  /** stats-dump fields only this source has (splice: page_pipes, page_pipe_bufs). */
  readonly stats?: Partial<DumpStatsEntry>;
  readonly splice?: SpliceResult;
  /** A frozen read copy held in memory until the thaw (dump/held-pages.ts). */
  readonly held?: HeldFigures;
}

/**
 * Progress over the whole dump: pages done of `total`, from every process in turn.
 *
 * @example
 * const p = new PageProgress(total, onProgress);
 * p.task(1000)(500); // half of the first task's 1000 pages
 */
export class PageProgress {
  private before = 0;

  constructor(
    public total: number,
    private readonly report?: (done: number, total: number) => void,
  ) {}

  /** A task of `pages` pages starts: its callback takes pages done within it. */
  task(pages: number): ((done: number) => void) | undefined {
    const base = this.before;
    this.before += pages;
    const r = this.report;
    return r ? (done) => r(base + done, this.total) : undefined;
  }
}

export interface PageSource extends Disposable {
  /** 'read' | 'splice': also the inventory's pre_dump_mode (images/PRE_DUMP_MODE). */
  readonly mode: 'read' | 'splice';
  /** copy() needs the process frozen (splice injects into it). */
  readonly needsFreeze: boolean;
  /** Take one process's pages: in the frozen window when the dump is frozen. */
  copy(t: TaskScan, session: PageSink, progress: PageProgress): Promise<void>;
  /** After the thaw: write what copy() held back. */
  drain(session: PageSink, progress: PageProgress): Promise<void>;
  /** What was written for `pid` (after drain()). */
  taskPages(pid: number): TaskPages;
  figures(): SourceFigures;
  /** Release what is still held (pipes); safe twice. */
  close(): void;
  /**
   * A source that holds its frozen copy until the thaw can take pre-copied pages (pre-copy.ts): the cap
   * and chunk size the passes use; undefined (or absent): no pre-copy for this source.
   */
  precopyLimits?(): { readonly cap: number; readonly chunk: number } | undefined;
  /** After the passes (running): reserve room for `bytes` of the window's copy now. */
  reserveHold?(bytes: number): void;
  /**
   * THE FROZEN WINDOW, before copy(t): what the pre-copy adds to `pid`'s pagemap (held pages, holes),
   * made when first needed (after the thaw), merged with the window's pages.
   */
  addPrecopied?(pid: number, items: () => readonly PlannedItem[]): void;
}
