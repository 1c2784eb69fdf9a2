/**
 * The frozen window's prelude and end, one way for every frozen dump (`pre-dump --freeze` in pre-dump.ts,
 * `ckpt dump` in full/final-dump.ts):
 *
 * ```
 * raiseForWindow()       nice -10 for this thread: the passes and the window wait for no other job
 * p.precopy()            the pre-copy passes (pipeline.ts, pre-copy.ts), the targets running
 * collectBeforeWindow()  a full GC now, not in the window (what prepare() and the passes allocated);
 *                        a scavenge only where they allocated nothing in bulk (FreezeWindowOptions.gc)
 * freezeTree(pid)        every thread of every process of the tree
 *   ... the window: p.capture(tree), a full dump's state ...
 * w.thaw()               the tree thawed, then the priority restored (safe twice; also [Symbol.dispose])
 * ```
 *
 * @example
 * using w = await freezeForWindow(p, { pid, log });
 * await p.capture(w.tree);
 * w.thaw();
 */
import { type FrozenTree, freezeTree } from '../ptrace/index.js';
import type { Logger } from './logger.js';
import type { DumpPipeline } from './pipeline.js';
import { collectBeforeWindow, raiseForWindow } from './window-priority.js';

/** A frozen tree and the window's priority: thaw() ends both. */
export interface FrozenWindow extends Disposable {
  readonly tree: FrozenTree;
  /** Thaw the tree (if still frozen), then restore this thread's priority. Safe twice. */
  thaw(): void;
}

/** Options of freezeForWindow. */
export interface FreezeWindowOptions {
  readonly pid: number;
  readonly log: Logger;
  /** Freeze the descendants too (default true). */
  readonly tree?: boolean;
  /** Run the pipeline's pre-copy passes first (default true: it decides whether they apply). */
  readonly precopy?: boolean;
  /**
   * The collection before the freeze (default `full`). `minor` (a scavenge, 1-13 ms) where prepare()
   * allocated nothing in bulk (no held copy's chunks, the read buffers the caller's: a migration's final
   * dump): a full one took 17-39 ms there right before the freeze, and its helper threads' work goes on
   * into the window; no collection landed in the window after a scavenge (bench/README.md, migrate).
   */
  readonly gc?: 'full' | 'minor';
}

/** Raise, pre-copy, collect, freeze (see the module comment). Throws what freezeTree throws. */
export async function freezeForWindow(p: DumpPipeline, o: FreezeWindowOptions): Promise<FrozenWindow> {
  // the passes too: the faster they copy, the less is written meanwhile (the window's delta)
  const prio = raiseForWindow();
  let tree: FrozenTree;
  let gcMicros = 0;
  try {
    if (o.precopy !== false) await p.precopy();
    const g = performance.now();
    // no collection due in the window for what prepare() and the passes allocated
    collectBeforeWindow(o.gc ?? 'full');
    gcMicros = Math.round((performance.now() - g) * 1000);
    tree = freezeTree(o.pid, {
      tree: o.tree !== false,
      onExited: (pid) => o.log.warn('process %d exited before it could be frozen', pid),
    });
  } catch (e) {
    prio.restore();
    throw e;
  }
  o.log.info(
    'froze %d processes (%d rounds) in %d us, after a %s GC of %d us',
    tree.pids.length,
    tree.stats.rounds,
    tree.stats.freezeMicros,
    o.gc ?? 'full',
    gcMicros,
  );
  const thaw = () => {
    if (tree.frozen) {
      tree.thaw();
      o.log.info('thawed %d processes', tree.pids.length);
    }
    prio.restore();
  };
  return { tree, thaw, [Symbol.dispose]: thaw };
}
