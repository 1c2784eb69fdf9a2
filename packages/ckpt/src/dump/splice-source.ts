/**
 * The splice page source (`--pre-dump-mode splice`): CRIU's default algorithm, kept beside ours to be
 * measured in the same run. In the frozen window copy() infects each process, vmsplices its present pages
 * into pipes made in the target (mem/spliceToPipes: read ends taken with pidfd_getfd, the target's copies
 * closed) and cures it; the pages stay pinned in the pipes until drain() writes them out after the thaw.
 *
 * ```
 * constructor  raise RLIMIT_NOFILE, find the root's injection site            (before the freeze)
 * copy(t)      Injector.infect -> spliceToPipes -> cure                        (frozen: needsFreeze)
 * drain()      per process: session.begin -> SplicedPages.drain -> end        (after the thaw)
 * ```
 * Every pipe is held until drain(): memory pinned is every dumped page (see mem/splice.ts for the limits).
 * No tracking: every present page goes as data.
 *
 * @example
 * using source = new SpliceSource(pid, { log });
 * await source.copy(frozenTask, session, progress); tree.thaw();
 * await source.drain(session, progress);
 */
import { type SpliceStats, spliceToPipes } from '../mem/splice.js';
import type { SplicedPages } from '../mem/splice-pipes.js';
import { Injector, injectionSite } from '../ptrace/index.js';
import { raiseNofileLimit } from '../sys/index.js';
import type { PageSink } from '../xfer/index.js';
import { DumpError } from './errors.js';
import type { PageProgress, PageSource, SourceFigures, SpliceResult, TaskPages } from './page-source.js';
import type { TaskScan } from './task-scan.js';

export interface SpliceSourceOptions {
  /** Pipe size to ask for (default and maximum: /proc/sys/fs/pipe-max-size). */
  readonly pipeSize?: number;
  /** Pipes created per injected round (default 16; the target needs 2 free fds per pipe of a round). */
  readonly pipesPerRound?: number;
  /** Test hook, while the target is frozen: after each pipe was filled (index from 0). */
  readonly afterPipe?: (index: number) => void;
  readonly signal?: AbortSignal;
  /** Test hook, after each pipe was written out (index from 0). */
  readonly afterBuffer?: (index: number) => void;
}

interface Spliced {
  readonly pages: SplicedPages;
  readonly stats: SpliceStats;
}

export class SpliceSource implements PageSource {
  readonly mode = 'splice';
  readonly needsFreeze = true;
  private readonly spliced = new Map<number, Spliced>();
  private readonly done = new Map<number, TaskPages>();
  private readonly nofileLimit: number;
  private readonly rootSite: number | undefined;
  private spliceNs = 0;
  private drainNs = 0;

  /** Raises our fd limit and finds the root's injection site: before the freeze. */
  constructor(
    private readonly root: number,
    private readonly o: SpliceSourceOptions = {},
  ) {
    if (o.pipeSize !== undefined && (!Number.isSafeInteger(o.pipeSize) || o.pipeSize < 4096)) {
      throw new DumpError('EINVAL', `bad pipe size ${o.pipeSize} (at least 4096)`);
    }
    this.nofileLimit = raiseNofileLimit().soft;
    this.rootSite = injectionSite(root);
  }

  /** Frozen window: infect, vmsplice every present page into pipes, cure. */
  async copy(t: TaskScan, _session: PageSink, _progress: PageProgress): Promise<void> {
    if (!t.frozen) throw new Error(`splice copy of ${t.pid}: the process is not frozen`);
    const t0 = process.hrtime.bigint();
    const inj = Injector.infect(t.frozen, t.pid, t.pid === this.root ? this.rootSite : injectionSite(t.pid));
    try {
      this.spliced.set(
        t.pid,
        spliceToPipes(inj, t.found.ranges, {
          pipeSize: this.o.pipeSize,
          pipesPerRound: this.o.pipesPerRound,
          afterPipe: this.o.afterPipe,
        }),
      );
    } finally {
      inj.cure();
      this.spliceNs += Number(process.hrtime.bigint() - t0);
    }
  }

  /** After the thaw: each process's pipes into the session, each pipe closed once written. */
  async drain(session: PageSink, progress: PageProgress): Promise<void> {
    for (const [pid, { pages }] of this.spliced) {
      await session.begin(pid);
      const drained = await pages.drain(
        { pages: (va, n, bytes) => session.addPages(va, n, bytes), flush: () => session.flush() },
        { onProgress: progress.task(pages.pages), signal: this.o.signal, afterPipe: this.o.afterBuffer },
      );
      const tEnd = process.hrtime.bigint();
      await session.end();
      // as CRIU's memwrite_time: taking the pages out of the pipes and writing them
      this.drainNs += drained.readNs + drained.writeNs + Number(process.hrtime.bigint() - tEnd);
      this.done.set(pid, {
        pagesWritten: drained.pagesWritten,
        pagesSkipped: pages.pagesSkipped,
        holePages: 0,
      });
    }
  }

  taskPages(pid: number): TaskPages {
    return this.done.get(pid) ?? { pagesWritten: 0, pagesSkipped: 0, holePages: 0 };
  }

  figures(): SourceFigures {
    const all = [...this.spliced.values()];
    const sum = (f: (s: Spliced) => number) => all.reduce((n, s) => n + f(s), 0);
    const max = (f: (s: Spliced) => number) => all.reduce((n, s) => Math.max(n, f(s)), 0);
    const splice: SpliceResult = {
      pipes: sum((s) => s.stats.pipes),
      pipeSize: max((s) => s.stats.pipeSize),
      rounds: sum((s) => s.stats.rounds),
      vmspliceCalls: sum((s) => s.stats.vmspliceCalls),
      // one process's pipes are all held until the drain: the peaks add up
      peakFds: sum((s) => s.stats.peakFds),
      peakTargetFds: max((s) => s.stats.peakTargetFds),
      injectedSyscalls: sum((s) => s.stats.injectedSyscalls),
      injectMicros: sum((s) => s.stats.injectMicros),
      vmspliceMicros: sum((s) => s.stats.vmspliceMicros),
      peakPipeBytes: sum((s) => s.pages.peakBytes),
      nofileLimit: this.nofileLimit,
    };
    return {
      bufferSize: max((s) => s.pages.largestPipe),
      readCalls: splice.vmspliceCalls,
      faults: sum((s) => s.pages.pagesSkipped),
      copyNs: this.spliceNs,
      writeNs: this.drainNs,
      stats: {
        page_pipes: splice.pipes,
        page_pipe_bufs: sum((s) => s.pages.pipes.reduce((n, p) => n + p.vaddrs.length, 0)), // CRIU's nr_iovs
      },
      splice,
    };
  }

  close(): void {
    for (const s of this.spliced.values()) s.pages.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
