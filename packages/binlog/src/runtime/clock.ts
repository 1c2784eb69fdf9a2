/**
 * The 'coarse' clock: a helper thread writes the monotonic time into a shared cell every 0.5 ms, and a
 * log call reads that cell (about 1 ns) instead of calling performance.now() (tens to hundreds of ns
 * here, the largest single cost of a log call). Timestamps then have about 0.5-1 ms resolution (more
 * when the machine is overloaded and the thread waits for a CPU); record order is kept by the file.
 * Until the thread has written once, readings fall back to performance.now().
 *
 * One clock thread per JavaScript thread that asks for it, started on first use and unref'd (it never
 * keeps the process alive).
 *
 * @example
 * const clock = coarseClock();
 * clock.nowMs(); // ≈ performance.now(), in ms
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

const TICKER = `
const { workerData } = require('node:worker_threads');
const t = new Float64Array(workerData, 0, 1);
const flags = new Int32Array(workerData, 8, 2);
for (;;) {
  const h = process.hrtime();
  t[0] = h[0] * 1e3 + h[1] / 1e6;
  Atomics.store(flags, 0, 1);
  Atomics.wait(flags, 1, 0, 0.5);
}
`;

export class CoarseClock {
  private readonly cell: Float64Array;
  private readonly ready: Int32Array;
  /** hrtime (ms) minus performance.now() of this thread. */
  private readonly offset: number;

  constructor() {
    const sab = new SharedArrayBuffer(16);
    this.cell = new Float64Array(sab, 0, 1);
    this.ready = new Int32Array(sab, 8, 2);
    const h = process.hrtime();
    this.offset = h[0] * 1e3 + h[1] / 1e6 - performance.now();
    const w = new Worker(TICKER, { eval: true, workerData: sab, stdout: false, stderr: false });
    w.unref();
  }

  /** Milliseconds on this thread's performance.now() scale. */
  nowMs(): number {
    return this.ready[0] === 1 ? this.cell[0]! - this.offset : performance.now();
  }
}

let shared: CoarseClock | null = null;

/** This thread's coarse clock, started on first use. */
export function coarseClock(): CoarseClock {
  if (shared === null) shared = new CoarseClock();
  return shared;
}
