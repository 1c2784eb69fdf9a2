/**
 * The process tree under a pid, as CRIU's `-t` takes it, listed while it runs: the process, then its
 * descendants breadth first (proc/listChildren). A descendant that exits while being listed is left out;
 * the root must exist (ProcError ESRCH/EPERM otherwise). A running tree can fork meanwhile: a dump that
 * needs the exact tree freezes it with ptrace/freezeTree, which re-lists until no new child appears.
 *
 * @example
 * listTree(1234); // [1234, 1240, 1241, 1250]
 */
import { listChildren, ProcError } from '../proc/index.js';

export function listTree(root: number): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    let children: number[];
    try {
      children = listChildren(pid);
    } catch (e) {
      if (pid !== root && e instanceof ProcError && e.code === 'ESRCH') continue;
      throw e;
    }
    seen.add(pid);
    out.push(pid);
    queue.push(...children);
  }
  return out;
}
