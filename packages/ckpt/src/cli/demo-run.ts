/**
 * The demo's record of one chain of pre-dumps: its iterations, printed as the final table and saved as
 * RUN.json (report/schema.ts, version 1) for `ckpt report`.
 *
 * ```
 * iteration  pages written  parent holes     time  stopped  throughput
 * 1                 65,612             0   312 ms   410 µs  820 MiB/s
 * 2                  9,114        56,498   61.2 ms     0 ms  582 MiB/s
 * ...
 * 4 frozen           2,208        63,404   40.1 ms  40.1 ms  215 MiB/s
 * ```
 *
 * @example
 * const run = new DemoRun();
 * run.add(1, result1); run.add(4, result4);
 * run.table(); // lines as above
 * writeFileSync('RUN.json', JSON.stringify(run.toRun({ mismatched: 0, missing: 0 }, 'ckpt demo')));
 */
import { cpus, release, totalmem } from 'node:os';
import type { PreDumpResult } from '../dump/index.js';
import { formatCount, formatMs, formatRate, type Run } from '../report/index.js';

/** One row: the iteration's number and its pre-dump result. */
export interface DemoIteration {
  readonly index: number;
  readonly result: PreDumpResult;
}

const ms = (us: number) => us / 1000;
const rate = (r: PreDumpResult) => (r.totalTime > 0 ? r.bytesWritten / (r.totalTime / 1e6) : 0);

export class DemoRun {
  readonly iterations: DemoIteration[] = [];

  add(index: number, result: PreDumpResult): void {
    this.iterations.push({ index, result });
  }

  /** Bytes written over the whole chain per second of pre-dump time. */
  get throughputBytesPerSec(): number {
    const bytes = this.iterations.reduce((n, i) => n + i.result.bytesWritten, 0);
    const us = this.iterations.reduce((n, i) => n + i.result.totalTime, 0);
    return us > 0 ? bytes / (us / 1e6) : 0;
  }

  /** The final table (header first), columns right-aligned but the first. */
  table(): string[] {
    const head = ['iteration', 'pages written', 'parent holes', 'time', 'stopped', 'throughput'];
    const rows = this.iterations.map(({ index, result: r }) => [
      r.frozen ? `${index} frozen` : String(index),
      formatCount(r.pagesWritten),
      formatCount(r.pagesSkippedParent ?? 0),
      formatMs(ms(r.totalTime)),
      formatMs(ms(r.stoppedTime ?? r.frozenTime)),
      formatRate(rate(r)),
    ]);
    const total = this.iterations.reduce(
      (t, { result: r }) => ({
        pages: t.pages + r.pagesWritten,
        holes: t.holes + (r.pagesSkippedParent ?? 0),
        us: t.us + r.totalTime,
        stopped: t.stopped + (r.stoppedTime ?? r.frozenTime),
      }),
      { pages: 0, holes: 0, us: 0, stopped: 0 },
    );
    rows.push([
      'all',
      formatCount(total.pages),
      formatCount(total.holes),
      formatMs(ms(total.us)),
      formatMs(ms(total.stopped)),
      formatRate(this.throughputBytesPerSec),
    ]);
    const width = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
    const line = (cells: string[]) =>
      cells.map((s, c) => (c === 0 ? s.padEnd(width[c]!) : s.padStart(width[c]!))).join('  ');
    return [line(head), ...rows.map(line)];
  }

  /** The RUN.json document (report/schema.ts) with the chain check's outcome. */
  toRun(check: { mismatched: number; missing: number } | undefined, title: string): Run {
    return {
      kind: 'ckpt-run',
      version: 1,
      createdAt: new Date().toISOString(),
      title,
      host: { kernel: release(), cpus: cpus().length, memBytes: totalmem() },
      iterations: this.iterations.map(({ index, result: r }) => ({
        index,
        frozen: r.frozen,
        pagesScanned: r.pagesScanned,
        pagesWritten: r.pagesWritten,
        ms: ms(r.totalTime),
        stoppedMs: ms(r.stoppedTime ?? r.frozenTime),
        bytes: r.bytesWritten,
        tracker: r.tracking?.kind ?? 'none',
      })),
      summary: {
        throughputBytesPerSec: this.throughputBytesPerSec,
        chainCheck:
          check === undefined ? 'skipped' : check.mismatched + check.missing === 0 ? 'ok' : 'failed',
        mismatchedPages: check?.mismatched ?? 0,
      },
    };
  }
}
