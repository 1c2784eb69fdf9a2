/**
 * Tasks cloned from a task being restored, with clone3 and `set_tid`, each traced from its first stop:
 *
 * ```
 * thread: the leader, once the address space is back (they share it):
 *         clone3({ CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM, set_tid = [tid] })   (PTRACE_O_TRACECLONE)
 * child:  its restored parent, before the parent's memory is rebuilt (a copy, trampoline included):
 *         clone3({ exit_signal SIGCHLD, set_tid = [pid] })                        (PTRACE_O_TRACEFORK)
 *   -> EVENT_STOP before its first instruction, traced by us -> RemoteTask at the trampoline
 * ```
 * Their state and registers are set by the driver; they run only when every task is complete.
 *
 * @example
 * const t = createThread(leader, tid, trampoline); // a RemoteTask stopped in the new thread
 * const c = createChild(parent, pid, trampoline);  // a RemoteTask stopped in the new process
 */
import {
  CLONE,
  CLONE_ARGS_SIZE,
  cloneArgs,
  SYS_CLONE3,
  setTidArray,
  WAIT,
  WStatus,
  waitpid,
} from '../sys/index.js';
import { RestoreError } from './errors.js';
import { assertFree, pidHolder } from './helper-process.js';
import { RemoteTask } from './remote-task.js';
import { putArg } from './task-args.js';

const SIGCHLD = 17;
const THREAD_FLAGS = CLONE.VM | CLONE.FS | CLONE.FILES | CLONE.SIGHAND | CLONE.THREAD | CLONE.SYSVSEM;

/** A new thread `tid` of `leader`'s process, stopped and traced (throws RestoreError EBUSY if taken). */
export function createThread(leader: RemoteTask, tid: number, trampoline: number): RemoteTask {
  return cloneTask(leader, tid, trampoline, THREAD_FLAGS, 0, 'thread id');
}

/** A new child `pid` of `parent`, stopped and traced (throws RestoreError EBUSY if taken). */
export function createChild(parent: RemoteTask, pid: number, trampoline: number): RemoteTask {
  return cloneTask(parent, pid, trampoline, 0, SIGCHLD, 'pid');
}

function cloneTask(
  from: RemoteTask,
  id: number,
  trampoline: number,
  flags: number,
  exitSignal: number,
  what: string,
): RemoteTask {
  assertFree(id, what);
  const setTidAt = putArg(from, setTidArray(id));
  const at = putArg(from, cloneArgs({ flags, exitSignal, setTidAt }));
  const r = from.syscall(SYS_CLONE3, at, CLONE_ARGS_SIZE);
  if (r === -17)
    throw new RestoreError('EBUSY', `${what} ${id} is taken (by ${pidHolder(id) ?? 'a process'})`);
  if (r !== id) throw new RestoreError('EIO', `clone3 of ${what} ${id} in process ${from.pid}: ${r}`);
  const w = waitpid(id, WAIT.WALL);
  if (!WStatus.stopped(w.status)) throw new RestoreError('EIO', `${what} ${id} exited at once`);
  const task = new RemoteTask(id, trampoline);
  task.useTrampoline(trampoline);
  return task;
}
