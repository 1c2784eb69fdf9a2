/**
 * The pace of the end of tracking: UFFDIO_UNREGISTER of every tracked range, UNREGISTER_STEP bytes a call,
 * with a rest after each call of UNREGISTER_REST_FACTOR times the call's own time (UNREGISTER_REST_MS at
 * least), so that the target's threads get a CPU between steps: ckpt's part of the release <= 25 %.
 *
 * ```
 * for each 16 MiB step of each range:   (the target running, after the thaw)
 *   UFFDIO_UNREGISTER(step)    kernel: clear the step's uffd-wp bits (change_protection), the target's
 *                              mmap_lock held for writing; ~1.4 ms median at 4 GiB here, up to ~66 ms
 *   rest max(1 ms, 3 x step)   this thread sleeps: the CPU goes to whoever waits for it (the target)
 * ```
 *
 * Why (measured 2026-12-06 on this 2-vCPU VM, Linux 6.18 PREEMPT_NONE, a 4 GiB writer fixture after
 * `pre-dump --freeze --pre-copy 4`, a 1 ms sampler of /proc/PID/task/TID/{stat,schedstat,wchan} and
 * /proc/stat): unregistering 4 GiB back to back (265 calls, 0.4-0.7 s) stopped the target's heartbeat
 * for 126-555 ms (3 reps) after a frozen window of 43-47 ms; in the stall the heartbeat thread was
 * runnable (R, not D: no lock) on the CPU where ckpt was in the kernel (its schedstat wait time grew by
 * the stall), and the other vCPU accounted no time at all in /proc/stat (its runqueue clock stood still:
 * the host did not run it). With a 1 ms rest after each step, same fixture and load: 42-75 ms stalls, but
 * a probe target logging its own gaps still saw 110-131 ms ones inside the release (steps of <= 6.4 ms);
 * with rests of 3x the step (>= 1 ms): none over 47 ms in the release (3 reps), the longest gaps then in
 * the pre-copy passes and the window. The cost: the release takes ~2 s at 4 GiB instead of 0.4-0.9 s,
 * after the thaw, the target running.
 *
 * A step is bounded (mmap_lock held for writing, faults wait) and so is the run of steps without a rest;
 * a failure (the target exited, a range changed) stops early: the close of the userfaultfd unregisters
 * what is left, in one hold.
 *
 * @example
 * const f = unregisterPaced(uffd, registered);   // after the target's own fd is closed
 * uffd.close();
 */
import type { AddressRange } from './tracker.js';
import type { Userfaultfd } from './userfaultfd.js';

/** Bytes unregistered per UFFDIO_UNREGISTER at the end of tracking. */
export const UNREGISTER_STEP = 16 << 20;
/** The shortest rest after a step, ms (Atomics.wait: a real sleep, the CPU given away). */
export const UNREGISTER_REST_MS = 1;
/** The rest after a step, in multiples of the step's own time. */
export const UNREGISTER_REST_FACTOR = 3;

/** What unregisterPaced did. */
export interface UnregisterFigures {
  /** UFFDIO_UNREGISTER calls made. */
  readonly steps: number;
  /** Time in the calls, µs (the target's mmap_lock held for writing, step by step). */
  readonly busyMicros: number;
  /** The longest call, µs. */
  readonly longestMicros: number;
  /** Whether every range was unregistered (false: a call failed; the close does the rest). */
  readonly complete: boolean;
}

/** Options of unregisterPaced (tests and benchmarks). */
export interface UnregisterPace {
  readonly step?: number;
  /** The shortest rest, ms; 0: no rest at all (back to back, as before the rests). */
  readonly restMs?: number;
  /** The rest in multiples of the step's time (default UNREGISTER_REST_FACTOR). */
  readonly restFactor?: number;
}

const rest = new Int32Array(new SharedArrayBuffer(4));

/** Unregister `ranges` of `u` step by step with rests (see the module comment). Never throws. */
export function unregisterPaced(
  u: Userfaultfd,
  ranges: readonly AddressRange[],
  pace: UnregisterPace = {},
): UnregisterFigures {
  const step = pace.step ?? UNREGISTER_STEP;
  const restMs = pace.restMs ?? UNREGISTER_REST_MS;
  const factor = pace.restFactor ?? UNREGISTER_REST_FACTOR;
  let steps = 0;
  let busyNs = 0n;
  let longestNs = 0n;
  try {
    for (const r of ranges) {
      for (let at = r.start; at < r.end; at += step) {
        const t = process.hrtime.bigint();
        u.unregister(at, Math.min(step, r.end - at));
        const ns = process.hrtime.bigint() - t;
        steps++;
        busyNs += ns;
        if (ns > longestNs) longestNs = ns;
        if (restMs > 0) Atomics.wait(rest, 0, 0, Math.max(restMs, (factor * Number(ns)) / 1e6));
      }
    }
  } catch {
    return figures(steps, busyNs, longestNs, false);
  }
  return figures(steps, busyNs, longestNs, true);
}

function figures(steps: number, busyNs: bigint, longestNs: bigint, complete: boolean): UnregisterFigures {
  return { steps, busyMicros: Number(busyNs / 1000n), longestMicros: Number(longestNs / 1000n), complete };
}
