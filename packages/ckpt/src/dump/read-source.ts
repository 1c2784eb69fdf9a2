/**
 * The read page source (`--pre-dump-mode read`, ours): process_vm_readv into one page-aligned buffer
 * (mem/PageReader, allocated before any freeze), each filled buffer handed to the session while the next
 * is read. copy() reads and writes a process's pages in one pass, PE_PARENT holes interleaved in pagemap
 * order (page-plan.ts); with a frozen dump that pass is the frozen window's copy, and drain() has
 * nothing left.
 *
 * ```
 * copy(t):  session.begin(pid) -> writePlannedPages(reader, session, plan) -> session.end()
 *           (a receiver without this process's parent: every hole is read as data instead)
 * ```
 *
 * @example
 * using source = new ReadSource(pid, { bufferSize: 4 << 20, log });
 * await source.copy(task, session, progress);
 */
import { PageReader } from '../mem/index.js';
import type { PageSink } from '../xfer/index.js';
import type { Logger } from './logger.js';
import { holesAsData, writePlannedPages } from './page-plan.js';
import type { PageProgress, PageSource, SourceFigures, TaskPages } from './page-source.js';
import type { TaskScan } from './task-scan.js';

export interface ReadSourceOptions {
  /** Size of the one read buffer, bytes. */
  readonly bufferSize: number;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /** Test hook, after each buffer went to the session (index from 0). */
  readonly afterBuffer?: (index: number) => void;
  /** The copy will run frozen: allocate every buffer of the rotation now. */
  readonly frozen?: boolean;
}

export class ReadSource implements PageSource {
  readonly mode = 'read';
  readonly needsFreeze = false;
  private readonly reader: PageReader;
  private readonly done = new Map<number, TaskPages>();
  private readNs = 0;
  private writeNs = 0;
  private calls = 0;
  private faults = 0;

  /** Allocates (and touches) the buffer: before the freeze. */
  constructor(
    pid: number,
    private readonly o: ReadSourceOptions,
  ) {
    this.reader = new PageReader(pid, { bufferSize: o.bufferSize });
    if (o.frozen) this.reader.reserve();
  }

  async copy(t: TaskScan, session: PageSink, progress: PageProgress): Promise<void> {
    await session.begin(t.pid);
    let plan = t.pages;
    let refused: string | undefined;
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

  async drain(): Promise<void> {}

  taskPages(pid: number): TaskPages {
    return this.done.get(pid) ?? { pagesWritten: 0, pagesSkipped: 0, holePages: 0 };
  }

  figures(): SourceFigures {
    return {
      bufferSize: this.reader.bufferSize,
      readCalls: this.calls,
      faults: this.faults,
      copyNs: this.readNs,
      writeNs: this.writeNs,
    };
  }

  close(): void {
    this.reader.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
