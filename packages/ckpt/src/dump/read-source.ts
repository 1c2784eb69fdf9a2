/**
 * The read page source (`--pre-dump-mode read`, ours): process_vm_readv into one page-aligned buffer
 * (mem/PageReader, allocated before any freeze), each filled buffer handed to the session while the next
 * is read. copy() reads and writes a process's pages in one pass, PE_PARENT holes interleaved in pagemap
 * order (page-plan.ts). Frozen, the copy reads into memory instead (HeldPages: chunks reserved before the
 * freeze, up to a cap) and drain() writes it after the thaw; past the cap it writes while frozen.
 *
 * ```
 * copy(t):  session.begin(pid) -> writePlannedPages(reader, session, plan) -> session.end()
 *           (a receiver without this process's parent: every hole is read as data instead)
 *           frozen: session = HeldPages in front of the session (the reader reads into its chunks)
 * drain():  frozen: HeldPages.drain() -> the session (writes, fsync at commit)
 * ```
 *
 * @example
 * using source = new ReadSource(pid, { bufferSize: 4 << 20, log });
 * await source.copy(task, session, progress);
 */
import { PageReader } from '../mem/index.js';
import type { PageSink } from '../xfer/index.js';
import { DumpError } from './errors.js';
import { HeldPages } from './held-pages.js';
import type { Logger } from './logger.js';
import { holesAsData, writePlannedPages } from './page-plan.js';
import type { PageProgress, PageSource, SourceFigures, TaskPages } from './page-source.js';
import type { PlannedItem } from './pre-copy.js';
import type { TaskScan } from './task-scan.js';

export interface ReadSourceOptions {
  /** Size of the one read buffer, bytes. */
  readonly bufferSize: number;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /** Test hook, after each buffer went to the session (index from 0). */
  readonly afterBuffer?: (index: number) => void;
  /**
   * The copy will run frozen: it goes into memory (HeldPages, chunks reserved now) and is written after
   * the thaw by drain(); without a hold (`holdCap` 0), every buffer of the rotation is allocated now and
   * the copy writes while frozen.
   */
  readonly frozen?: boolean;
  /**
   * A reader the caller owns and keeps (--iterations: one set of buffers for every iteration, so that
   * each does not leave its own to the garbage collector); closed by its owner, not by the source.
   */
  readonly reader?: PageReader;
  /** Bytes of pages a frozen copy holds in memory at most (default DEFAULT_HOLD_CAP; 0: write frozen). */
  readonly holdCap?: number;
  /** Bytes to reserve for the held copy before the freeze (an estimate; default 16 MiB, at most the cap). */
  readonly holdReserve?: number;
}

/**
 * The default cap of a frozen copy held in memory: 256 MiB of pages (65,536 pages written since the last
 * pre-dump). Past it the copy writes while frozen (and the result says how much: `spilledBytes`).
 */
export const DEFAULT_HOLD_CAP = 256 << 20;

export class ReadSource implements PageSource {
  readonly mode = 'read';
  readonly needsFreeze = false;
  private readonly reader: PageReader;
  /** The frozen copy held in memory until drain(). */
  private readonly hold: HeldPages | undefined;
  private readonly done = new Map<number, TaskPages>();
  /** Per process, pages and holes the pre-copy added to its pagemap (known once made). */
  private readonly precopied = new Map<number, { pages: number; holes: number }>();
  private readNs = 0;
  private writeNs = 0;
  private calls = 0;
  private faults = 0;

  /** Allocates (and touches) the buffer: before the freeze. */
  constructor(
    pid: number,
    private readonly o: ReadSourceOptions,
  ) {
    this.reader = o.reader ?? new PageReader(pid, { bufferSize: o.bufferSize });
    const cap = o.holdCap ?? DEFAULT_HOLD_CAP;
    if (o.frozen && cap >= this.reader.bufferSize) {
      this.hold = new HeldPages({ cap, chunk: this.reader.bufferSize });
      this.hold.reserve(o.holdReserve ?? 16 << 20);
    } else if (o.frozen) this.reader.reserve();
  }

  /**
   * One process's pages into `to` (frozen: into memory, HeldPages in front of `to`; the first process's
   * begin() still reaches `to`).
   */
  async copy(t: TaskScan, to: PageSink, progress: PageProgress): Promise<void> {
    const session = this.hold ? this.hold.over(to) : to;
    await session.begin(t.pid);
    let plan = t.pages;
    let refused: string | undefined;
    if (session.hasParent === false && this.hold?.hasPrecopied(t.pid)) {
      // the passes planned parent holes for it (pipeline.ts precopy(): asked for with a page server)
      throw new DumpError(
        'EIO',
        `process ${t.pid}: the page server has no parent pagemap for it, and the pre-copy passes planned parent holes`,
      );
    }
    if (session.hasParent === false && plan.holes.length > 0) {
      // the receiver's parent lacks this process: it would refuse PE_PARENT entries
      this.o.log.warn(
        'process %d: the page server has no parent pagemap for it: %d parent pages sent as data',
        t.pid,
        plan.holes.pages,
      );
      progress.total += plan.holes.pages;
      plan = holesAsData(plan);
      refused = 'the page server has no parent pagemap for it';
    }
    const st = await writePlannedPages(this.reader, session, plan, {
      pid: t.pid,
      onProgress: progress.task(plan.data.pages),
      afterBuffer: this.o.afterBuffer,
      signal: this.o.signal,
    });
    const tEnd = process.hrtime.bigint();
    await session.end();
    this.writeNs += Number(process.hrtime.bigint() - tEnd) + st.writeNs;
    this.readNs += st.readNs;
    this.calls += st.calls;
    this.faults += st.faults;
    this.o.log.debug(
      'process %d: %d pages read in %d us (%d calls), handed on in %d us, session end %d us',
      t.pid,
      st.pagesRead,
      Math.round(st.readNs / 1000),
      st.calls,
      Math.round(st.writeNs / 1000),
      Math.round(Number(process.hrtime.bigint() - tEnd) / 1000),
    );
    if (st.pagesUnreadable > 0) {
      this.o.log.warn(
        'process %d: %d pages went away while being read (%d faults): left out',
        t.pid,
        st.pagesUnreadable,
        st.faults,
      );
    }
    this.done.set(t.pid, {
      pagesWritten: st.pagesRead,
      pagesSkipped: st.pagesUnreadable,
      holePages: st.holePages,
      refused,
    });
  }

  precopyLimits(): { readonly cap: number; readonly chunk: number } | undefined {
    return this.hold ? { cap: this.o.holdCap ?? DEFAULT_HOLD_CAP, chunk: this.reader.bufferSize } : undefined;
  }

  reserveHold(bytes: number): void {
    this.hold?.reserve(bytes);
  }

  addPrecopied(pid: number, items: () => readonly PlannedItem[]): void {
    if (!this.hold) throw new Error('ReadSource.addPrecopied without a hold');
    this.hold.addPrecopied(pid, () => {
      const list = items();
      const c = { pages: 0, holes: 0 };
      for (const r of list) {
        if (r.bytes) c.pages += r.n;
        else c.holes += r.n;
      }
      this.precopied.set(pid, c);
      return list;
    });
  }

  /** After the thaw: write what the frozen copy held. */
  async drain(): Promise<void> {
    if (!this.hold) return;
    await this.hold.drain();
    this.writeNs += this.hold.figures().drainNs;
  }

  taskPages(pid: number): TaskPages {
    const t = this.done.get(pid) ?? { pagesWritten: 0, pagesSkipped: 0, holePages: 0 };
    const p = this.precopied.get(pid);
    return p ? { ...t, pagesWritten: t.pagesWritten + p.pages, holePages: t.holePages + p.holes } : t;
  }

  figures(): SourceFigures {
    return {
      bufferSize: this.reader.bufferSize,
      readCalls: this.calls,
      faults: this.faults,
      copyNs: this.readNs,
      writeNs: this.writeNs,
      held: this.hold?.figures(),
    };
  }

  close(): void {
    this.hold?.abort('closed');
    if (this.reader !== this.o.reader) this.reader.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
