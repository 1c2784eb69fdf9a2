/**
 * Record timestamps: integral microseconds on the monotonic clock (CLOCK_MONOTONIC, `process.hrtime()`'s
 * scale). The header of a log stores `originMs = Date.now() - micros() / 1000` so that a decoder turns them
 * into wall time.
 *
 * Two sources:
 * - `preciseMicros()` (the default, `clock: 'precise'`): one `process.hrtime()` per record, µs resolution.
 *   Of Node 20's clocks it is the cheapest here (measured on-CPU in a loop: hrtime 41-62 ns,
 *   performance.now() 63-91 ns, Date.now() 65-83 ns, hrtime.bigint() 89-129 ns; clock_gettime() itself costs
 *   29 ns from C on this machine). V8 drops its array where it inlines it (the record writers read it
 *   themselves for that reason, encoder.ts). It stays the largest single cost of a log call.
 * - `CoarseClock` (`clock: 'coarse'`): while a thread logs in bursts, a helper thread writes the time into
 *   a shared cell every 0.5 ms and a log call reads that cell (6-15 ns). Timestamps then have about
 *   0.5-1 ms resolution (more when the machine is overloaded and the helper waits for a CPU); record
 *   order is kept by the file. Outside bursts a call reads preciseMicros() itself, so:
 *   - the helper thread is started only at the first burst (BURST calls within BURST_US), never for a
 *     program that logs sparsely;
 *   - it stops ticking after IDLE_TICKS ticks without a read and sleeps until the next burst: each tick
 *     costs the process CPU (about 50 µs of CPU per wake-up in this VM, i.e. ~10 % of a core while it
 *     ticks), which only a dense burst repays (`node bench/clock.js`).
 *   One helper per JavaScript thread that asks for it, unref'd (it never keeps the process alive).
 *
 * @example
 * const t0 = preciseMicros();
 * coarseClock().micros() - t0; // ≈ 0..1000
 */
import { Worker } from 'node:worker_threads';

const hrtime = process.hrtime;

/** The monotonic time in integral µs (process.hrtime()'s scale). */
export function preciseMicros(): number {
  const h = hrtime();
  return h[0] * 1e6 + ((h[1] / 1000) | 0);
}

/** Calls within BURST_US µs of each other that start (or wake) the helper thread. */
const BURST = 64;
const BURST_US = 2000;
/** Ticks without a read after which the helper sleeps. */
const IDLE_TICKS = 40;
const TICK_MS = 0.5;

/** Int32 slots after the Float64 cell. */
const READY = 0; // the helper has written the cell at least once
const USED = 1; // set by a read, cleared by each tick
const SLEEPING = 2; // 1 while the helper waits for a burst
const PAUSE = 3; // never changes: the helper's timed wait between ticks

const TICKER = `
const { workerData } = require('node:worker_threads');
const cell = new Float64Array(workerData, 0, 1);
const f = new Int32Array(workerData, 8, 4);
let idle = 0;
for (;;) {
  const h = process.hrtime();
  cell[0] = h[0] * 1e6 + ((h[1] / 1000) | 0);
  Atomics.store(f, ${READY}, 1);
  if (Atomics.exchange(f, ${USED}, 0) === 1) idle = 0;
  else if (++idle >= ${IDLE_TICKS}) {
    Atomics.store(f, ${SLEEPING}, 1);
    Atomics.wait(f, ${SLEEPING}, 1);
    idle = 0;
    continue;
  }
  Atomics.wait(f, ${PAUSE}, 0, ${TICK_MS});
}
`;

export class CoarseClock {
  private readonly sab = new SharedArrayBuffer(24);
  private readonly cell = new Float64Array(this.sab, 0, 1);
  private readonly flags = new Int32Array(this.sab, 8, 4);
  private started = false;
  private windowStart = 0;
  private windowCalls = 0;

  /** µs on preciseMicros()'s scale: the helper's cell during a burst, preciseMicros() otherwise. */
  micros(): number {
    const f = this.flags;
    // plain reads: Atomics.load is a builtin call in Node 20 (≈20 ns); a stale SLEEPING only means one
    // more read of a cell that is at most one tick old
    if (f[SLEEPING] === 0 && f[READY] === 1) {
      f[USED] = 1;
      return this.cell[0]!;
    }
    return this.sparse();
  }

  /** True while the helper thread is ticking (for tests and the benchmark). */
  get ticking(): boolean {
    return this.flags[READY] === 1 && this.flags[SLEEPING] === 0;
  }

  private sparse(): number {
    const t = preciseMicros();
    if (t - this.windowStart > BURST_US) {
      this.windowStart = t;
      this.windowCalls = 0;
    }
    if (++this.windowCalls >= BURST) {
      this.windowCalls = 0;
      this.wake(t);
    }
    return t;
  }

  /** Start the helper, or wake it; the cell holds `t` until its first tick. */
  private wake(t: number): void {
    const f = this.flags;
    if (!this.started) {
      this.started = true;
      const w = new Worker(TICKER, { eval: true, workerData: this.sab, stdout: false, stderr: false });
      w.unref();
      return;
    }
    if (f[READY] !== 1) return; // still starting
    this.cell[0] = t;
    f[USED] = 1;
    if (Atomics.compareExchange(f, SLEEPING, 1, 0) === 1) Atomics.notify(f, SLEEPING, 1);
  }
}

let shared: CoarseClock | null = null;

/** This thread's coarse clock (its helper thread starts at the first burst of reads). */
export function coarseClock(): CoarseClock {
  if (shared === null) shared = new CoarseClock();
  return shared;
}
