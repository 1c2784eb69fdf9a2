/**
 * freezeTree(root): freeze a whole process tree (CRIU's `-t`), as freeze() freezes a process's threads:
 * rounds until stable.
 *
 * ```
 * round:  for every frozen process, list its children (proc/listChildren)
 *         freeze() each child not frozen yet (a child that exits first is left out: `exited`)
 * stop:   a round that finds no new child. A frozen process cannot fork, so once every process of a
 *         listing is frozen, its children are final: a child forked while its parent was being frozen is
 *         caught by the next round.
 * ```
 * The root is frozen first; it must exist (PtraceError ESRCH otherwise). A FrozenTree owns every
 * FrozenProcess: thaw() (or `using`) thaws them all, children first, and is safe to call twice; a failure
 * while freezing thaws what was frozen and throws.
 *
 * ```
 *   freezeTree(root) --> frozen --thaw()--> thawed      (each FrozenProcess: see frozen-process.ts)
 * ```
 *
 * @example
 * using tree = freezeTree(pid);
 * for (const pid of tree.pids) console.log(pid, tree.get(pid)!.tids.length);
 * // leaving the block thaws every process
 */
import { listChildren, ProcError } from '../proc/index.js';
import { PtraceError } from './errors.js';
import { freeze } from './freeze.js';
import type { FrozenProcess } from './frozen-process.js';

export interface FreezeTreeOptions {
  /** Freeze the root's descendants too (default true); false freezes the root alone. */
  readonly tree?: boolean;
  /** Called for each descendant that exited before it could be frozen. */
  readonly onExited?: (pid: number) => void;
  /** Test hook: after each round's new processes were frozen (1-based round). */
  readonly afterRound?: (round: number, pids: readonly number[]) => void;
}

export interface FreezeTreeStats {
  /** From the first seize to the last process frozen, µs. */
  freezeMicros: number;
  /** Listings of the frozen processes' children until no new child appeared. */
  rounds: number;
}

export class FrozenTree implements Disposable {
  private readonly map = new Map<number, FrozenProcess>();
  private thawed = false;
  readonly stats: FreezeTreeStats = { freezeMicros: 0, rounds: 0 };
  /** Descendants seen in a listing that exited before they could be frozen. */
  readonly exited: number[] = [];

  /** @internal Built by freezeTree(). */
  constructor(readonly root: number) {}

  /** @internal */
  add(f: FrozenProcess): void {
    this.map.set(f.pid, f);
  }

  /** The processes held: the root, then its descendants breadth first. */
  get pids(): number[] {
    return [...this.map.keys()];
  }

  /** The processes held, by pid (the form TrackingSession.release takes). */
  get processes(): ReadonlyMap<number, FrozenProcess> {
    return this.map;
  }

  get(pid: number): FrozenProcess | undefined {
    return this.map.get(pid);
  }

  /** True until thaw(). */
  get frozen(): boolean {
    return !this.thawed;
  }

  /** µs from the first seize until now (until the thaw, once thawed: the longest process stop). */
  get stoppedMicros(): number {
    let us = 0;
    for (const f of this.map.values()) {
      us = Math.max(us, f.stats.stoppedMicros || Math.round((performance.now() - f.seizedAt) * 1000));
    }
    return us;
  }

  /** Thaw every process, descendants first; safe to call twice. Throws the first failure after trying all. */
  thaw(): void {
    if (this.thawed) return;
    this.thawed = true;
    let first: unknown;
    for (const f of [...this.map.values()].reverse()) {
      try {
        f.thaw();
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
  }

  [Symbol.dispose](): void {
    this.thaw();
  }
}

/**
 * Freeze `root` and (unless `tree: false`) every descendant, until a round finds no new child.
 * Throws PtraceError (see freeze()) for the root; descendants that exit meanwhile are left out.
 */
export function freezeTree(root: number, o: FreezeTreeOptions = {}): FrozenTree {
  const tree = new FrozenTree(root);
  const t0 = performance.now();
  try {
    tree.add(freeze(root));
    const gone = new Set<number>();
    let fresh = [root];
    while (o.tree !== false) {
      tree.stats.rounds++;
      const found: number[] = [];
      for (const pid of tree.pids) {
        for (const c of childrenOf(pid)) {
          if (tree.get(c) || gone.has(c) || found.includes(c)) continue;
          found.push(c);
        }
      }
      if (found.length === 0) break;
      fresh = [];
      for (const c of found) {
        try {
          tree.add(freeze(c));
          fresh.push(c);
        } catch (e) {
          if (!(e instanceof PtraceError && e.code === 'ESRCH')) throw e;
          gone.add(c);
          tree.exited.push(c);
          o.onExited?.(c);
        }
      }
      o.afterRound?.(tree.stats.rounds, fresh);
    }
  } catch (e) {
    try {
      tree.thaw();
    } catch {
      /* the original error matters more */
    }
    throw e;
  }
  tree.stats.freezeMicros = Math.round((performance.now() - t0) * 1000);
  return tree;
}

/** The children of a frozen process; none once it is gone (it is dropped from nothing: its thaw says so). */
function childrenOf(pid: number): number[] {
  try {
    return listChildren(pid);
  } catch (e) {
    if (e instanceof ProcError && e.code === 'ESRCH') return [];
    throw e;
  }
}
