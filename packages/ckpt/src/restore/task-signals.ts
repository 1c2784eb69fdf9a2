/**
 * Signals of a task being restored: every signal blocked while it is built, the dumped pending signals
 * queued again with their siginfo, the dumped mask put back only at the very end.
 *
 * ```
 * restoreThreadState   PTRACE_SETSIGMASK(all): nothing arriving meanwhile is delivered (and so dropped by
 *                      an injected call's resume), everything stays pending
 * queuePendingSignals  last injected calls of each thread: rt_tgsigqueueinfo(tgid, tid, signo, siginfo)
 *                      of the thread's queue (signals_p), in the thread itself (the kernel accepts a
 *                      kernel or SI_USER si_code only from the target: it is); the leader also
 *                      rt_sigqueueinfo(tgid, signo, siginfo) of the process's queue (signals_s)
 * (munmap of the trampoline: the signals blocked, nothing delivered)
 * restoreSigmask       PTRACE_SETSIGMASK(dumped mask) in every thread just before the detach: on resume
 *                      the kernel recalculates what is pending and delivers the unblocked ones
 * ```
 *
 * @example
 * blockAllSignals(task);
 * queuePendingSignals(task, tgid, core);    // each thread, last
 * setSigmask(task.pid, dumpedSigmask(core, leader));    // before the detach
 */
import type { CoreEntry, SignalQueueEntry } from '../images/index.js';
import { RSYS, setSigmask } from '../sys/index.js';
import { RestoreError } from './errors.js';
import type { RemoteTask } from './remote-task.js';

/** Every blockable signal (the kernel keeps SIGKILL and SIGSTOP out). */
const ALL = (1n << 64n) - 1n;
const SIGINFO_SIZE = 128;

/** Block every signal in `task` until restoreSigmask. */
export function blockAllSignals(task: RemoteTask): void {
  setSigmask(task.pid, ALL);
}

/** The mask the thread of `core` had (the leader's in `tc`, the others' in their thread_core). */
export function dumpedSigmask(core: CoreEntry, leader: CoreEntry): bigint {
  return core === leader ? leader.tc!.blk_sigset : (core.thread_core?.blk_sigset ?? 0n);
}

/**
 * Queue the dumped pending signals of the thread of `core` into it (its own queue; in the leader, the
 * process's shared queue first). Injected last in the thread: the signals are blocked until the detach.
 */
export function queuePendingSignals(task: RemoteTask, tgid: number, core: CoreEntry): void {
  if (task.pid === tgid) queue(task, tgid, core.tc?.signals_s, true);
  queue(task, tgid, core.thread_core?.signals_p, false);
}

function queue(task: RemoteTask, tgid: number, q: SignalQueueEntry | undefined, shared: boolean): void {
  for (const { siginfo } of q?.signals ?? []) {
    if (siginfo.length !== SIGINFO_SIZE)
      throw new RestoreError('CORRUPT_IMAGE', `a siginfo of ${siginfo.length} bytes, not ${SIGINFO_SIZE}`);
    const signo = Buffer.from(siginfo.buffer, siginfo.byteOffset, siginfo.length).readInt32LE(0);
    if (signo < 1 || signo > 64) throw new RestoreError('CORRUPT_IMAGE', `a pending signal ${signo}`);
    const o = { data: siginfo };
    if (shared) task.queue(`rt_sigqueueinfo(${signo})`, RSYS.rt_sigqueueinfo, (at) => [tgid, signo, at], o);
    else
      task.queue(
        `rt_tgsigqueueinfo(${signo})`,
        RSYS.rt_tgsigqueueinfo,
        (at) => [tgid, task.pid, signo, at],
        o,
      );
  }
}
