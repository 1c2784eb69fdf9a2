/**
 * Zombie children of a dumped tree: processes that exited and that their parent (in the tree) has not
 * reaped yet. Their exit status is the state to keep: the parent's wait() must still get it after a
 * restore. As CRIU: a pstree entry and a core image with TASK_DEAD and the exit status, nothing else (a
 * zombie has no memory or files left); the restore makes a child that exits so (restore/zombie.ts).
 *
 * ```
 * each process of the frozen tree -> its children (/proc/PID/task/TID/children) not in the tree, in
 * state Z -> /proc/Z/stat: ppid, pgid, sid, exit_code (the wait status: code << 8 | signal), comm
 * ```
 * Listed while the tree is frozen: a frozen parent cannot reap them meanwhile.
 *
 * @example
 * findZombies([1234]); // [{ pid: 1240, ppid: 1234, pgid: 1234, sid: 1234, status: 768, comm: 'worker' }]
 */
import type { ZombieProcess } from '../../images/index.js';
import { listChildren, readProcFile, readStatFields } from '../../proc/index.js';

/** A zombie child (images' ZombieProcess). */
export type ZombieFacts = ZombieProcess;

/** stat's exit_code is field 52; readStatFields starts at field 3 (state). */
const EXIT_CODE = 52 - 3;

/** The zombie children of the processes `pids` (see the module comment). */
export function findZombies(pids: readonly number[]): ZombieFacts[] {
  const tree = new Set(pids);
  const out: ZombieFacts[] = [];
  for (const pid of pids) {
    for (const c of listChildren(pid)) {
      if (tree.has(c)) continue;
      let f: string[];
      let comm: string;
      try {
        f = readStatFields(c);
        comm = readProcFile(c, 'comm').trim();
      } catch {
        continue; // reaped meanwhile (the tree is frozen: not by its parent)
      }
      if (f[0] !== 'Z') continue;
      out.push({
        pid: c,
        ppid: Number(f[1]),
        pgid: Number(f[2]),
        sid: Number(f[3]),
        status: Number(f[EXIT_CODE] ?? 0),
        comm,
      });
    }
  }
  return out;
}
