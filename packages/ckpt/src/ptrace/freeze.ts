/**
 * freeze(pid): stop every thread of a process with PTRACE_SEIZE + PTRACE_INTERRUPT, as CRIU's compel does.
 *
 * Rounds: list /proc/PID/task, seize and interrupt the threads not seen yet, wait for each of them to stop;
 * repeat until a listing (taken while every known thread is stopped, so none can create another) shows no
 * new thread and the thread count of /proc/PID/status agrees with it (a listing can miss a thread). Threads created meanwhile are therefore caught, and threads that exit meanwhile are dropped.
 * Non-leader threads are waited for before the leader, so that a process killed during the freeze is
 * reported as ESRCH instead of hanging on the leader's delayed exit.
 *
 * Everything is synchronous on the calling (main) thread: only the thread that attached may issue ptrace
 * requests, so never call this from a worker or through koffi `.async`, and keep any `await` out of the
 * frozen section unless you accept that signals are handled only when the event loop turns.
 *
 * @example
 * using frozen = freeze(pid);   // throws PtraceError ESRCH / EPERM / EBUSY / EINVAL
 * console.log(`${frozen.tids.length} threads frozen in ${frozen.stats.freezeMicros} µs`);
 */
import { listThreads, ProcError, readStatus } from '../proc/index.js';
import { PTRACE, ptrace, SIG, SysError, WAIT, WStatus, waitpid } from '../sys/index.js';
import { PtraceError, ptraceErrorFrom } from './errors.js';
import { FrozenProcess } from './frozen-process.js';
import { livePids } from './registry.js';

export interface FreezeOptions {
  /**
   * Called after each round's threads were seized and interrupted, before waiting for them: a hook for
   * tests that force the target to exit in the middle of a freeze.
   */
  readonly onSeized?: (tids: readonly number[]) => void;
}

const GROUP_STOP_SIGNALS = new Set([SIG.SIGSTOP, 20 /* SIGTSTP */, 21 /* SIGTTIN */, 22 /* SIGTTOU */]);

function gone(pid: number, cause?: unknown): PtraceError {
  return new PtraceError('ESRCH', `process ${pid} is gone`, cause === undefined ? undefined : { cause });
}

function busyOrPerm(pid: number, cause: unknown): PtraceError {
  let tracer = 0;
  try {
    tracer = readStatus(pid).tracerPid;
  } catch {
    return gone(pid, cause);
  }
  if (tracer !== 0) {
    const who = tracer === process.pid ? 'this process' : `process ${tracer}`;
    return new PtraceError('EBUSY', `process ${pid} is already traced by ${who}`, {
      cause,
      tracerPid: tracer,
    });
  }
  return new PtraceError('EPERM', `not permitted to trace process ${pid}`, { cause });
}

function checkTarget(pid: number): void {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new PtraceError('EINVAL', `not a pid: ${pid}`);
  if (pid === process.pid) throw new PtraceError('EPERM', 'a process cannot freeze itself');
  let st: ReturnType<typeof readStatus>;
  try {
    st = readStatus(pid);
  } catch (e) {
    if (e instanceof ProcError && e.code === 'ESRCH') throw gone(pid, e);
    throw new PtraceError('EPERM', `cannot read /proc/${pid}/status`, { cause: e });
  }
  if (st.tgid !== pid) {
    throw new PtraceError('EINVAL', `${pid} is a thread of process ${st.tgid}, not a process`);
  }
  if (livePids().includes(pid)) {
    throw new PtraceError('EBUSY', `process ${pid} is already frozen by this process`, {
      tracerPid: process.pid,
    });
  }
  if (st.tracerPid !== 0) throw busyOrPerm(pid, undefined);
}

/** True if thread `tid` is gone or already exiting (ptrace refuses those with EPERM). */
function exiting(pid: number, tid: number): boolean {
  try {
    const s = readStatus(pid, tid).state;
    return s === 'Z' || s === 'X' || s === '';
  } catch {
    return true;
  }
}

/** Seize + interrupt `tid`. Returns false if the thread is gone. */
function seize(frozen: FrozenProcess, tid: number): boolean {
  try {
    ptrace(PTRACE.SEIZE, tid, 0, 0);
  } catch (e) {
    if (e instanceof SysError && e.code === 'ESRCH') return false;
    if (e instanceof SysError && e.code === 'EPERM') {
      // an exiting thread (a leader too: a process exiting while we freeze it is gone, not forbidden)
      if (exiting(frozen.pid, tid)) return false;
      throw busyOrPerm(frozen.pid, e);
    }
    throw ptraceErrorFrom(e, tid, 'seize');
  }
  frozen.addThread(tid);
  try {
    ptrace(PTRACE.INTERRUPT, tid, 0, 0);
  } catch (e) {
    if (e instanceof SysError && e.code === 'ESRCH') return true; // exiting: the wait reports it
    throw ptraceErrorFrom(e, tid, 'interrupt');
  }
  return true;
}

/** Wait until `tid` is in a ptrace stop. Returns false if the thread exited instead. */
function waitStopped(frozen: FrozenProcess, tid: number): boolean {
  const t = frozen.thread(tid)!;
  let w: { pid: number; status: number };
  try {
    w = waitpid(tid, WAIT.WALL);
  } catch (e) {
    if (e instanceof SysError && e.code === 'ECHILD') return false;
    throw ptraceErrorFrom(e, tid, 'wait for');
  }
  const s = w.status;
  if (!WStatus.stopped(s)) return false; // exited or killed
  const sig = WStatus.stopSig(s);
  if (WStatus.event(s) === PTRACE.EVENT_STOP) {
    if (sig !== SIG.SIGTRAP && GROUP_STOP_SIGNALS.has(sig as never)) t.groupStop = sig;
  } else if (WStatus.event(s) === 0) {
    t.signals.push(sig); // signal-delivery-stop: the thread is stopped; deliver the signal at detach
  }
  return true;
}

/** Re-listings of /proc/PID/task when its entries and the thread count of /proc/PID/status disagree. */
const MAX_RECHECKS = 100;

/** The number of live threads of `pid` (signal->nr_threads, as /proc/PID/status prints it). */
function threadCount(pid: number): number {
  try {
    return readStatus(pid).threads;
  } catch (e) {
    throw gone(pid, e);
  }
}

/**
 * Freeze every thread of process `pid`. Returns the owner of the frozen process.
 * Throws PtraceError: ESRCH (no such process, or it exited meanwhile), EPERM, EBUSY (traced by someone
 * else: the message names the tracer), EINVAL (not a process id).
 */
export function freeze(pid: number, options: FreezeOptions = {}): FrozenProcess {
  checkTarget(pid);
  const frozen = new FrozenProcess(pid); // registers (and installs the handlers) before anything stops
  const t0 = performance.now();
  frozen.seizedAt = t0;
  let rechecks = 0;
  try {
    for (;;) {
      let list: number[];
      try {
        list = listThreads(pid);
      } catch (e) {
        throw gone(pid, e);
      }
      const fresh = list.filter((t) => frozen.thread(t) === undefined);
      if (fresh.length === 0) {
        // readdir of /proc/PID/task walks the thread list by position, so it can skip a live thread while
        // others exit: trust an empty round only when the kernel's thread count agrees (bounded, in case
        // the count includes a thread that is exiting)
        if (threadCount(pid) <= frozen.tids.length || ++rechecks > MAX_RECHECKS) break;
        continue;
      }
      frozen.stats.rounds++;
      const seized = fresh.filter((t) => seize(frozen, t));
      if (seized.length === 0 && fresh.includes(pid)) throw gone(pid);
      options.onSeized?.(seized);
      // non-leaders first: a dying leader is only reported once its threads are reaped
      const order = seized.filter((t) => t !== pid);
      if (seized.includes(pid)) order.push(pid);
      for (const tid of order) {
        if (waitStopped(frozen, tid)) continue;
        frozen.dropThread(tid);
        if (tid === pid) throw gone(pid);
      }
    }
    if (frozen.thread(pid) === undefined) throw gone(pid);
  } catch (e) {
    try {
      frozen.thaw();
    } catch {
      /* the original error matters more */
    }
    throw e;
  }
  frozen.stats.freezeMicros = Math.round((performance.now() - t0) * 1000);
  return frozen;
}
