/**
 * Tasks cloned from a task being restored, with clone3 and `set_tid`, each traced from its first stop:
 *
 * ```
 * thread: the leader, once the address space is back (they share it), every thread's clone3 in one batch
 *         (createThreads; the leader's PTRACE_EVENT_CLONE stops are passed by RemoteTask):
 *         clone3({ CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM, set_tid = [tid] })   (PTRACE_O_TRACECLONE)
 * child:  its restored parent, before the parent's memory is rebuilt (a copy, trampoline included):
 *         clone3({ exit_signal SIGCHLD, set_tid = [pid] })                        (PTRACE_O_TRACEFORK)
 *   -> EVENT_STOP before its first instruction, traced by us -> RemoteTask at the trampoline
 * ```
 * Their state and registers are set by the driver; they run only when every task is complete.
 *
 * @example
 * const [t1, t2] = createThreads(leader, [tid1, tid2], trampoline); // RemoteTasks stopped in them
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

/**
 * New threads `tids` of `leader`'s process, stopped and traced: their clone3 calls queued in one batch of
 * the leader (one stop for all, after whatever the leader has queued), then each one's first stop taken.
 * Throws RestoreError EBUSY if a tid is taken.
 */
export function createThreads(leader: RemoteTask, tids: readonly number[], trampoline: number): RemoteTask[] {
  if (tids.length === 0) return [];
  for (const tid of tids) assertFree(tid, 'thread id'); // before any clone3 is queued
  for (const tid of tids) {
    const setTidAt = putArg(leader, setTidArray(tid));
    const at = putArg(leader, cloneArgs({ flags: THREAD_FLAGS, exitSignal: 0, setTidAt }));
    leader.queue(`clone3 of thread id ${tid}`, SYS_CLONE3, [at, CLONE_ARGS_SIZE], {
      mayFail: true,
      onResult: (r) => checkClone(r, tid, 'thread id', leader.pid),
    });
  }
  leader.flush();
  const made: RemoteTask[] = [];
  try {
    for (const tid of tids) made.push(tracedClone(tid, trampoline, 'thread id'));
  } catch (e) {
    for (const t of made) t.kill();
    throw e;
  }
  return made;
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
  checkClone(from.syscall(SYS_CLONE3, at, CLONE_ARGS_SIZE), id, what, from.pid);
  return tracedClone(id, trampoline, what);
}

/** The result `r` of the clone3 of `id` in process `pid`: `id`, or a RestoreError (EBUSY if taken). */
function checkClone(r: number, id: number, what: string, pid: number): void {
  if (r === -17)
    throw new RestoreError('EBUSY', `${what} ${id} is taken (by ${pidHolder(id) ?? 'a process'})`);
  if (r !== id) throw new RestoreError('EIO', `clone3 of ${what} ${id} in process ${pid}: ${r}`);
}

/** The task cloned as `id`, at its first stop (traced by us since its clone), its calls from the trampoline. */
function tracedClone(id: number, trampoline: number, what: string): RemoteTask {
  const w = waitpid(id, WAIT.WALL);
  if (!WStatus.stopped(w.status)) throw new RestoreError('EIO', `${what} ${id} exited at once`);
  const task = new RemoteTask(id, trampoline);
  task.useTrampoline(trampoline);
  return task;
}
