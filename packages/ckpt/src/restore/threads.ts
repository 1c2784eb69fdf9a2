/**
 * The threads of the restored process besides its leader, made by the leader with clone3 and `set_tid`
 * once the address space is back (they share it), each traced from its first stop:
 *
 * ```
 * leader: clone3({ CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM, set_tid = [tid] })  (PTRACE_O_TRACECLONE)
 *   -> the thread: EVENT_STOP before its first instruction, traced by us -> RemoteTask at the trampoline
 * ```
 * Its per-thread state and registers are set by the driver; it runs only when every thread is complete.
 *
 * @example
 * const t = createThread(leader, tid, trampoline); // a RemoteTask stopped in the new thread
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

const THREAD_FLAGS = CLONE.VM | CLONE.FS | CLONE.FILES | CLONE.SIGHAND | CLONE.THREAD | CLONE.SYSVSEM;

/** A new thread `tid` of `leader`'s process, stopped and traced (throws RestoreError EBUSY if taken). */
export function createThread(leader: RemoteTask, tid: number, trampoline: number): RemoteTask {
  assertFree(tid, 'thread id');
  const setTidAt = putArg(leader, trampoline, setTidArray(tid), CLONE_ARGS_SIZE);
  const at = putArg(leader, trampoline, cloneArgs({ flags: THREAD_FLAGS, exitSignal: 0, setTidAt }));
  const r = leader.syscall(SYS_CLONE3, at, CLONE_ARGS_SIZE);
  if (r === -17)
    throw new RestoreError('EBUSY', `thread id ${tid} is taken (by ${pidHolder(tid) ?? 'a process'})`);
  if (r !== tid) throw new RestoreError('EIO', `clone3 of thread ${tid} in process ${leader.pid}: ${r}`);
  const w = waitpid(tid, WAIT.WALL);
  if (!WStatus.stopped(w.status)) throw new RestoreError('EIO', `thread ${tid} exited at once`);
  return new RemoteTask(tid, trampoline);
}
