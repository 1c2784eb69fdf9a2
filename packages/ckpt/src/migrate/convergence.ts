/**
 * When a live migration stops iterating: a pure function of the iterations so far (QEMU's rule for VMs,
 * applied to a process): measure the link's bandwidth and the target's dirty rate, project the downtime of
 * a final dump taken now, and finish as soon as that projection fits the downtime limit.
 *
 * ```
 *   bandwidth B   bytes sent / time sending, over the last iterations (a mean weighted by bytes, so a
 *                 short iteration's noise weighs little)
 *   dirty rate D  bytes the target wrote / the time they were written in (the last iteration's delta)
 *   final delta   what the target writes while this iteration is being sent: D x (last send time),
 *                 at least the last delta when sending took no time
 *   downtime      fixed cost (freeze, collect, the rest of the state, restore: measured by the caller)
 *                 + final delta / B
 *
 *   downtime <= limit                   -> finish ('fits'), unless the last two deltas (the first
 *                                          iteration's aside) still halved: iterate (within max)
 *   iterations >= max                   -> finish ('max-iterations'), or give up by choice
 *   D >= B, or the delta no longer      -> not converging: finish anyway ('no-convergence') or give up,
 *   shrinks (< 10% over 2 iterations)      as the caller chose (ckpt migrate --on-no-convergence)
 *   else                                -> iterate
 * ```
 * Nothing here reads a clock or the target: the caller measures, this decides, so the rule is tested on
 * tables (convergence.test.ts) and can be replayed from a migration's `--json` output.
 *
 * @example
 * const d = decide([{ bytesSent: 1 << 30, sendMs: 900, bytesDirtied: 8 << 20, dirtyMs: 900 }], {
 *   maxDowntimeMs: 100, maxIterations: 10, fixedMs: 20, onNoConvergence: 'finish' });
 * d.action === 'finish'; // 8 MiB at ~1.2 GB/s fits 100 ms
 */

/** What one iteration measured. */
export interface IterationSample {
  /** Bytes sent (pages and headers) by this iteration. */
  readonly bytesSent: number;
  /** Time spent sending them (ms). */
  readonly sendMs: number;
  /** Bytes the target wrote that this iteration found (its delta; the whole memory for the first). */
  readonly bytesDirtied: number;
  /** Time over which they were written (ms since the previous iteration collected; 0 for the first). */
  readonly dirtyMs: number;
}

export interface ConvergenceOptions {
  /** The downtime limit (ms). */
  readonly maxDowntimeMs: number;
  /** Iterations at most (the final dump not counted). */
  readonly maxIterations: number;
  /** Downtime that does not depend on the delta (freeze, state, restore), as measured (ms). */
  readonly fixedMs: number;
  /** What to do when the target dirties faster than the link carries, or at maxIterations. */
  readonly onNoConvergence: 'finish' | 'give-up';
  /** Iterations considered for the bandwidth (default 3). */
  readonly window?: number;
}

export type Decision =
  | { readonly action: 'iterate'; readonly projectedMs: number; readonly why: string }
  | {
      readonly action: 'finish';
      readonly projectedMs: number;
      readonly reason: 'fits' | 'max-iterations' | 'no-convergence';
      readonly why: string;
    }
  | { readonly action: 'give-up'; readonly projectedMs: number; readonly why: string };

/** The link's bandwidth over the last `window` iterations (bytes per ms); 0 when nothing was timed. */
export function bandwidth(h: readonly IterationSample[], window = 3): number {
  let bytes = 0;
  let ms = 0;
  for (const s of h.slice(-window)) {
    bytes += s.bytesSent;
    ms += s.sendMs;
  }
  return ms > 0 ? bytes / ms : 0;
}

/** The target's dirty rate (bytes per ms) from the last iteration that measured one; 0 if none did. */
export function dirtyRate(h: readonly IterationSample[]): number {
  for (let i = h.length - 1; i >= 0; i--) {
    const s = h[i]!;
    if (s.dirtyMs > 0) return s.bytesDirtied / s.dirtyMs;
  }
  return 0;
}

/** The downtime (ms) of a final dump taken right after the last iteration. */
export function projectDowntime(h: readonly IterationSample[], o: ConvergenceOptions): number {
  const last = h.at(-1);
  if (!last) return Number.POSITIVE_INFINITY;
  const b = bandwidth(h, o.window);
  if (b <= 0) return Number.POSITIVE_INFINITY;
  const d = dirtyRate(h);
  // what is written while the last iteration was sent; a first iteration has no rate yet: its
  // delta is then the whole memory, and the projection says so
  const delta = d > 0 ? Math.max(d * last.sendMs, h.length > 1 ? 0 : last.bytesDirtied) : last.bytesDirtied;
  return o.fixedMs + delta / b;
}

const fmt = (ms: number) => (Number.isFinite(ms) ? `${ms.toFixed(1)} ms` : 'unbounded');

/** Go on, finish, or give up (see the module comment). */
export function decide(h: readonly IterationSample[], o: ConvergenceOptions): Decision {
  const projectedMs = projectDowntime(h, o);
  const limit = `limit ${o.maxDowntimeMs} ms`;
  const [before, last] = h.slice(-2).map((x) => x.bytesDirtied);
  const halving = h.length >= 3 && h.length < o.maxIterations && last! < 0.5 * before!;
  if (h.length > 0 && projectedMs <= o.maxDowntimeMs && halving) {
    // the delta still halves from one iteration to the next: one more shrinks the final dump's (which
    // the projection, without the fixed cost, underrates: ~8 us a page frozen at 4 GiB here)
    return {
      action: 'iterate',
      projectedMs,
      why: `projected downtime ${fmt(projectedMs)} fits the ${limit}, but the delta still halves (${before} -> ${last} bytes)`,
    };
  }
  if (h.length > 0 && projectedMs <= o.maxDowntimeMs) {
    return {
      action: 'finish',
      projectedMs,
      reason: 'fits',
      why: `projected downtime ${fmt(projectedMs)} fits the ${limit}`,
    };
  }
  const stop = (reason: 'max-iterations' | 'no-convergence', why: string): Decision =>
    o.onNoConvergence === 'finish'
      ? { action: 'finish', projectedMs, reason, why }
      : { action: 'give-up', projectedMs, why };
  if (h.length >= o.maxIterations) {
    return stop(
      'max-iterations',
      `${h.length} iterations: projected downtime ${fmt(projectedMs)} over the ${limit}`,
    );
  }
  const b = bandwidth(h, o.window);
  const d = dirtyRate(h);
  if (h.length >= 2 && d > 0 && b > 0 && d >= b) {
    return stop(
      'no-convergence',
      `the target writes ${(d / 1000).toFixed(1)} MB/s, the link carries ${(b / 1000).toFixed(1)} MB/s: the delta cannot shrink`,
    );
  }
  if (h.length >= 3) {
    const [a, , c] = h.slice(-3).map((s) => s.bytesDirtied);
    if (c! > 0.9 * a!) {
      return stop(
        'no-convergence',
        `the delta no longer shrinks (${a} -> ${c} bytes over 2 iterations); projected downtime ${fmt(projectedMs)}`,
      );
    }
  }
  return { action: 'iterate', projectedMs, why: `projected downtime ${fmt(projectedMs)} over the ${limit}` };
}
