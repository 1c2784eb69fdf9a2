/**
 * Several pre-dumps of one process in one run (`ckpt pre-dump --iterations N --interval MS`), as CRIU users
 * script `criu pre-dump` in a loop: iteration k goes to `BASE/k`, chained with `BASE/k/parent -> ../k-1`
 * (iteration 1 to `prevImagesDir` if given, relative to `BASE/1`). One TrackingSession carries the
 * trackers from one iteration to the next in memory; only the last directory gets ckpt-track.json (a
 * later `ckpt pre-dump --prev-images-dir ../N` continues from there). With `freeze`, the last iteration
 * is taken frozen and ends the chain (tracking released).
 *
 * ```
 * BASE/1  full (tracking starts: the target stops only for the injected syscalls)
 * BASE/2  written pages + holes   (no stop)      parent -> ../1
 * ...
 * BASE/N  written pages + holes   (--freeze: frozen, consistent; tracking ends)   parent -> ../N-1
 * ```
 * Along the chain ckpt's heap is held to the size of one iteration (heap-hold.ts: no growth of V8's
 * young generation, a full GC before each interval), so that the peak RSS stays the first iteration's.
 * With a page-server `target` each iteration opens its own session (a `--daemon` server puts them in
 * DIR/<n>); BASE/k keeps the metadata.
 *
 * @example
 * const results = await preDumpIterations({ pid, imagesDir: '/ckpt/run', iterations: 5, intervalMs: 1000, trackMem: 'auto' });
 * results.map((r) => r.pagesWritten);
 */
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageDir } from '../images/index.js';
import { PageReader, type TrackerChoice } from '../mem/index.js';
import { cancelledBy } from '../sys/index.js';
import type { PageSink } from '../xfer/index.js';
import { DumpError } from './errors.js';
import { HeapHold } from './heap-hold.js';
import { silentLogger } from './logger.js';
import { type PreDumpOptions, preDump } from './pre-dump.js';
import type { PreDumpResult } from './stats.js';
import { TrackingSession } from './tracking.js';

/** Options of preDumpIterations: preDump's, with `imagesDir` the base directory. */
export interface IterationsOptions extends Omit<PreDumpOptions, 'tracking' | 'saveTracking' | 'endTracking'> {
  readonly imagesDir: string;
  readonly iterations: number;
  /** Pause between two iterations, ms. */
  readonly intervalMs: number;
  readonly trackMem: TrackerChoice;
  /**
   * Instead of `target`, a session the caller opens per iteration (handed over to that iteration's
   * pre-dump, which closes or aborts it); `sink` is ignored then.
   */
  readonly openSink?: (k: number) => Promise<PageSink>;
  /** After each iteration (1-based). */
  readonly onIteration?: (k: number, r: PreDumpResult) => void;
}

/** The directory of iteration `k` under `base`. */
export function iterationDir(base: string, k: number): string {
  return join(base, String(k));
}

/** Run the iterations; throws the first failure (that iteration's directory is marked incomplete). */
export async function preDumpIterations(o: IterationsOptions): Promise<PreDumpResult[]> {
  const n = o.iterations;
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new DumpError('EINVAL', `bad iteration count ${n}`);
  if (!Number.isFinite(o.intervalMs) || o.intervalMs < 0) {
    throw new DumpError('EINVAL', `bad interval ${o.intervalMs} ms`);
  }
  const log = o.logger ?? silentLogger;
  const first = iterationDir(o.imagesDir, 1);
  let parent: ImageDir | undefined;
  if (o.prevImagesDir !== undefined) {
    const p = ImageDir.open(resolve(first, o.prevImagesDir));
    if (p.complete) parent = p;
  }
  using session = TrackingSession.open(o.trackMem, parent, log);
  // ckpt's heap stays that of the first iteration (heap-hold.ts): its peak RSS does not step up later
  using heap = HeapHold.start();
  // one set of read buffers for every iteration: the peak RSS stays that of the first
  using reader = new PageReader(o.pid, { bufferSize: o.bufferSize ?? 4 << 20 });
  const results: PreDumpResult[] = [];
  for (let k = 1; k <= n; k++) {
    if (k > 1) heap.collect(); // the previous iteration's garbage, while the target runs anyway
    if (k > 1 && o.intervalMs > 0) {
      try {
        await sleep(o.intervalMs, undefined, { signal: o.signal });
      } catch {
        throw cancelledBy(o.signal, `pre-dump cancelled after iteration ${k - 1}`);
      }
    }
    const last = k === n;
    const dir = iterationDir(o.imagesDir, k);
    let sink: PageSink | undefined = o.sink;
    if (o.openSink) {
      try {
        sink = await o.openSink(k);
      } catch (e) {
        markIncomplete(dir, e);
        throw e;
      }
    }
    const r = await preDump({
      ...o,
      sink,
      imagesDir: dir,
      prevImagesDir: k === 1 ? o.prevImagesDir : `../${k - 1}`,
      tracking: session,
      reader,
      saveTracking: last,
      freeze: last && o.freeze,
      endTracking: last && o.freeze === true,
      afterCommit: last ? o.afterCommit : undefined,
    }).catch((e: unknown) => {
      sink?.abort(e instanceof Error ? e.message : String(e));
      markIncomplete(dir, e);
      throw e;
    });
    log.info('iteration %d of %d done: %d pages written', k, n, r.pagesWritten);
    o.onIteration?.(k, r);
    results.push(r);
  }
  return results;
}

/** A failure before preDump created the directory (e.g. the target exited meanwhile): mark it anyway. */
function markIncomplete(dir: string, e: unknown): void {
  try {
    const d = ImageDir.open(dir);
    if (d.complete || d.incompleteReason !== undefined) return;
  } catch {
    /* not created yet */
  }
  try {
    ImageDir.create(dir).abort(e instanceof Error ? e.message : String(e));
  } catch {
    /* the original error matters more */
  }
}
