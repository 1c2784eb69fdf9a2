/**
 * The ptrace stops an injection waits for, on one thread of a frozen process (injector.ts):
 *
 * ```
 * 'syscall'          syscall-entry or -exit stop (PTRACE_SYSCALL; status SIGTRAP | 0x80)
 * 'event'            an EVENT_STOP (PTRACE_INTERRUPT): the kernel's signal path, as after the freeze
 * { signal, rip }    a batch's end (call-batch.ts): that signal's signal-delivery-stop at `rip`
 * others on the way  a signal-delivery-stop: the signal is remembered (re-sent at cure or detach) and
 *                    suppressed; a group-stop (an EVENT_STOP with a stop signal) is noted; the thread is
 *                    resumed with the same request
 * ```
 * A thread whose process died (waitpid: exited, or ECHILD) makes the process 'gone' (ESRCH).
 *
 * @example
 * ptrace(PTRACE.SYSCALL, tid, 0, 0);
 * waitForStop(frozen, tid, 'syscall', PTRACE.SYSCALL, stats, regs);
 */
import { PTRACE, ptrace, SIG, SYS, SysError, syscall, WAIT, WStatus, waitpid } from '../sys/index.js';
import { PtraceError } from './errors.js';
import type { FrozenProcess } from './frozen-process.js';
import type { Registers } from './registers.js';

const SYSCALL_STOP = SIG.SIGTRAP | 0x80;

/** What an injection waits for: a syscall stop, an EVENT_STOP, or a batch's end (its signal at `rip`). */
export type StopKind = 'syscall' | 'event' | { readonly signal: number; readonly rip: number };

/**
 * Wait for the next stop of `kind` on `tid`, resuming with `resume` past others (see the module
 * comment). `counter.stops` counts every stop waited for; `regs` is scratch space for a batch's rip.
 */
export function waitForStop(
  frozen: FrozenProcess,
  tid: number,
  kind: StopKind,
  resume: number,
  counter: { stops: number },
  regs: Registers,
): void {
  const thread = frozen.thread(tid)!;
  for (;;) {
    let s: number;
    try {
      s = waitpid(tid, WAIT.WALL).status;
      counter.stops++;
    } catch (e) {
      if (e instanceof SysError && e.code === 'ECHILD')
        s = 0x9; // treat as killed
      else throw e;
    }
    if (!WStatus.stopped(s)) {
      frozen.markGone();
      throw new PtraceError('ESRCH', `process ${frozen.pid} exited during an injected syscall`);
    }
    const sig = WStatus.stopSig(s);
    const ev = WStatus.event(s);
    if (ev === 0 && sig === SYSCALL_STOP) {
      if (kind === 'syscall') return;
    } else if (ev === PTRACE.EVENT_STOP) {
      if (sig !== SIG.SIGTRAP) thread.groupStop = sig;
      if (kind === 'event') return;
    } else if (ev === 0) {
      // the batch's own quiet signal, where the batch ends; else a real signal (even of that number)
      if (
        typeof kind === 'object' &&
        sig === kind.signal &&
        frozen.regs(tid, regs).address('rip') === kind.rip
      )
        return;
      thread.signals.push(sig);
    }
    ptrace(resume, tid, 0, 0);
  }
}

/**
 * The signals remembered on `tid` while injecting, queued again (tgkill): a DETACH from an EVENT_STOP
 * would drop its signal.
 */
export function requeueSignals(frozen: FrozenProcess, tid: number): void {
  const thread = frozen.thread(tid);
  if (!thread) return;
  for (const sig of thread.signals.splice(0)) syscall(SYS.tgkill, frozen.pid, tid, sig);
}
