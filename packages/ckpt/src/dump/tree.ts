/**
 * The process tree under a pid, as CRIU's `-t` takes it: the process, then its descendants breadth first,
 * from /proc/PID/task/TID/children of every thread. A descendant that exits while being listed is left
 * out; the root must exist (ProcError ESRCH/EPERM otherwise).
 *
 * @example
 * listTree(1234); // [1234, 1240, 1241, 1250]
 */
import { listThreads, ProcError, readProcFile } from '../proc/index.js';

export function listTree(root: number): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    let tids: number[];
    try {
      tids = listThreads(pid);
    } catch (e) {
      if (pid !== root && e instanceof ProcError && e.code === 'ESRCH') continue;
      throw e;
    }
    seen.add(pid);
    out.push(pid);
    for (const tid of tids) {
      let text: string;
      try {
        text = readProcFile(pid, `task/${tid}/children`);
      } catch (e) {
        if (e instanceof ProcError && e.code === 'ESRCH') continue; // the thread exited meanwhile
        throw e;
      }
      for (const c of text.split(' ')) if (c.trim()) queue.push(Number(c));
    }
  }
  return out;
}
