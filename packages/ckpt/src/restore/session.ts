/**
 * Sessions and process groups of the restored tree, CRIU's way: sessions first (a session leader calls
 * setsid() before it has children, so that they inherit it), then groups (each process joins its group by
 * setpgid once the group's leader exists: leaders first).
 *
 * ```
 * planSessions (before a pid is taken)   the sid and pgid each process gets: the dumped ones; with
 *                                        --shell-job, the root's session and group outside the tree
 *                                        become ckpt's own (CRIU's prepare_pstree_for_shell_job)
 *                                        checked: a process's session is its own or its parent's
 * restoreSession (each process, right    setsid() for a session leader, setpgid(0, 0) for a group leader;
 *   after its clone)                     the rest inherit their parent's
 * restoreGroups (all processes exist)    setpgid(0, pgid) in every process whose group is still not the
 *                                        planned one (a group led by a sibling, an uncle, ...): its leader
 *                                        made it at its clone
 * ```
 * A session or group whose leader is outside the tree (and not the shell job's) is not restored: the
 * process keeps what it inherited (the helper's session, see helper-process.ts).
 *
 * @example
 * const plan = planSessions(images, shellJob);
 * restoreSession(rootTask, plan.get(root.pid)!);
 * // ... children cloned, each restoreSession'd ...
 * restoreGroups(tasks, plan, shellJob);
 */
import { readStatFields } from '../proc/index.js';
import { RSYS } from '../sys/index.js';
import { RestoreError } from './errors.js';
import type { RemoteTask } from './remote-task.js';
import type { TaskImages } from './task-images.js';

/** A process's session and group ids as restored. */
export interface SessionIds {
  readonly pid: number;
  readonly sid: number;
  readonly pgid: number;
}

/** The session and group of process `pid` (live), from /proc/PID/stat. */
export function liveSession(pid: number): { sid: number; pgid: number } {
  const f = readStatFields(pid);
  return { pgid: Number(f[5 - 3]), sid: Number(f[6 - 3]) };
}

/**
 * The sid and pgid of each process (by pid), checked. `shellJob`: a root that is not a session leader
 * moves into ckpt's session, and the group it was in (its own too, as CRIU does) into ckpt's group, with
 * every process that shared them. Throws RestoreError ENOTSUP for a session neither the process's own nor its parent's,
 * or for ckpt's session or group id taken by a process of the images (CRIU's check).
 */
export function planSessions(images: readonly TaskImages[], shellJob: boolean): Map<number, SessionIds> {
  const root = images[0]!.pstree;
  const pids = new Set(images.map((t) => t.pid));
  let moveSid: [number, number] | undefined;
  let movePgid: [number, number] | undefined;
  if (shellJob && root.sid !== root.pid) {
    const own = liveSession(process.pid);
    for (const [what, id] of [
      ['session', own.sid],
      ['process group', own.pgid],
    ] as const)
      if (pids.has(id))
        throw new RestoreError('ENOTSUP', `--shell-job: ckpt's ${what} ${id} is a pid of the images`);
    moveSid = [root.sid, own.sid];
    movePgid = [root.pgid, own.pgid];
  }
  const map = (id: number, move?: [number, number]) => (move && id === move[0] ? move[1] : id);
  const plan = new Map<number, SessionIds>();
  for (const t of images) {
    const { pid, ppid } = t.pstree;
    const ids = { pid, sid: map(t.pstree.sid, moveSid), pgid: map(t.pstree.pgid, movePgid) };
    const parent = plan.get(ppid);
    if (parent && ids.sid !== pid && ids.sid !== parent.sid)
      throw new RestoreError(
        'ENOTSUP',
        `process ${pid} is in session ${ids.sid}, its parent ${ppid} in ${parent.sid}: not restored yet`,
      );
    plan.set(pid, ids);
  }
  return plan;
}

/** Right after the process is cloned: setsid() for a session leader, setpgid(0, 0) for a group leader. */
export function restoreSession(task: RemoteTask, ids: SessionIds): void {
  if (ids.sid === ids.pid) task.queue('setsid', RSYS.setsid, []);
  else if (ids.pgid === ids.pid) task.queue('setpgid(0, 0)', RSYS.setpgid, [0, 0]);
}

/**
 * Once every process exists: each one whose group differs from the plan joins it (setpgid(0, pgid)), when
 * the group's leader is in the tree or, with `shellJob`, is ckpt's group (the root's moved there); others
 * keep what they inherited.
 */
export function restoreGroups(
  tasks: readonly RemoteTask[],
  plan: ReadonlyMap<number, SessionIds>,
  shellJob: boolean,
): void {
  const own = shellJob ? liveSession(process.pid).pgid : undefined;
  for (const task of tasks) {
    const ids = plan.get(task.pid)!;
    if (ids.sid === ids.pid) continue;
    task.flush(); // its restoreSession's call, queued
    if (liveSession(task.pid).pgid === ids.pgid) continue;
    if (!plan.has(ids.pgid) && ids.pgid !== own) continue;
    task.call(`setpgid(0, ${ids.pgid})`, RSYS.setpgid, 0, ids.pgid);
  }
}
