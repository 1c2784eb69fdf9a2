/**
 * The zombies of a dump made again: a child of its restored parent that ends as the dumped one did, so
 * that the parent's wait() gets the same status after the restore (CRIU's restore_one_zombie).
 *
 * ```
 * parent (restored, stopped, default dispositions still) --clone3(set_tid = pid)--> child, traced
 *   -> setsid (it led a session) | setpgid(0, 0) (it led a group) | setpgid(0, pgid) (another group)
 *   -> PR_SET_NAME, PR_SET_DUMPABLE 0 (no core file)
 *   -> exit_group(code) | kill(self, signal) let through (RemoteTask.endAs): a zombie of its parent
 * ```
 * Made after every live process exists (a zombie's group may be another process's) and before their
 * dispositions are restored (a signal's default action ends it; a handler the parent has would not).
 *
 * @example
 * for (const z of readZombies(dir)) makeZombie(tasksByPid.get(z.ppid)!, z, trampoline);
 */
import { PR, RSYS } from '../sys/index.js';
import type { RemoteTask } from './remote-task.js';
import { putArg } from './task-args.js';
import { createChild } from './task-clone.js';
import type { ZombieImages } from './task-images.js';

/** The zombie `z`, a child of `parent` (see the module comment). */
export function makeZombie(parent: RemoteTask, z: ZombieImages, trampoline: number): void {
  const child = createChild(parent, z.pid, trampoline);
  try {
    if (z.sid === z.pid) child.call(`setsid (zombie ${z.pid})`, RSYS.setsid);
    else if (z.pgid === z.pid) child.call(`setpgid (zombie ${z.pid})`, RSYS.setpgid, 0, 0);
    else child.syscall(RSYS.setpgid, 0, z.pgid); // its group may be gone: then the parent's
    const name = Buffer.alloc(16);
    name.write(z.comm.slice(0, 15));
    child.call(`PR_SET_NAME (zombie ${z.pid})`, RSYS.prctl, PR.SET_NAME, putArg(child, name));
    child.call(`PR_SET_DUMPABLE (zombie ${z.pid})`, RSYS.prctl, PR.SET_DUMPABLE, 0);
    child.endAs(z.status);
  } catch (e) {
    child.kill();
    throw e;
  }
}
