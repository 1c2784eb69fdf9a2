/**
 * A process whose threads are all in a ptrace stop: the result of `freeze()`. One owner; `thaw()` (or
 * `using`) cures every injector still active on it, then detaches every thread. Registered in the
 * process-wide registry while frozen, so it is thawed even on SIGINT/SIGTERM/uncaught exceptions/exit.
 *
 * Tracee lifecycle (this module and injector.ts):
 * ```
 *            freeze(pid)                       Injector.infect(frozen)
 *  running ----------------> seized --> frozen ------------------------> infected
 *     ^     SEIZE+INTERRUPT      waitpid: |  ^    save regs, xstate, sigmask; |  syscall(nr, ...)
 *     |     every thread,      every tid  |  |    mmap a scratch page (from   |  (SETREGS, SYSCALL,
 *     |     re-list /proc/PID/task        |  |    libc's `syscall; ret`)      |   wait entry + exit)
 *     |     until stable                  |  +---------- cured <--------------+
 *     |                                   |     munmap ours, back to an       cure()
 *     |       thaw(): DETACH each thread  |     EVENT_STOP, SETREGS saved
 *     +---------- detached <--------------+
 *                 (re-delivers remembered signals; an error or a signal on our side thaws too)
 * ```
 * Stops a thread may be in while frozen: the interrupt stop (status 0x80057f), a group-stop (the process
 * was stopped by SIGSTOP/SIGTSTP/...; it stays stopped after thaw), or a signal-delivery-stop (a signal
 * was being delivered: it is remembered and re-delivered at detach).
 *
 * @example
 * using frozen = freeze(pid);
 * const regs = frozen.regs(pid);
 * console.log(frozen.stats.freezeMicros, regs.get('rip'));
 * // leaving the block thaws
 */
import { hasExited } from '../proc/index.js';
import { getRegs, PTRACE, ptrace, SYS, syscall, WAIT, WStatus, waitpid } from '../sys/index.js';
import { PtraceError, ptraceErrorFrom } from './errors.js';
import { Registers } from './registers.js';
import { registerTracee, type Tracee, unregisterTracee } from './registry.js';

/** Per-thread state while frozen. */
export interface FrozenThread {
  readonly tid: number;
  /** Signals caught in signal-delivery-stops, re-delivered at detach (first by DETACH, others by tgkill). */
  readonly signals: number[];
  /** Stop signal of a group-stop (SIGSTOP, ...) the thread is in; 0 for an interrupt stop. */
  groupStop: number;
}

export interface FreezeStats {
  /** From the first PTRACE_SEIZE to the last thread stopped, in microseconds. */
  freezeMicros: number;
  /** Times /proc/PID/task was listed until no new thread appeared. */
  rounds: number;
  /** From the start of thaw() to the last DETACH, in microseconds (0 until thawed). */
  thawMicros: number;
  /** From the first PTRACE_SEIZE to the last DETACH: how long the target was stopped (0 until thawed). */
  stoppedMicros: number;
}

/** Something that must be undone before detaching (an infected thread). */
export interface Curable {
  cure(): void;
}

export type FrozenState = 'frozen' | 'detached' | 'gone';

export class FrozenProcess implements Tracee, Disposable {
  private readonly threadMap = new Map<number, FrozenThread>();
  private readonly curables = new Set<Curable>();
  private stateValue: FrozenState = 'frozen';
  readonly stats: FreezeStats = { freezeMicros: 0, rounds: 0, thawMicros: 0, stoppedMicros: 0 };
  /** @internal performance.now() at the first PTRACE_SEIZE. */
  seizedAt = 0;
  /**
   * The window's user injects into this process again after ending tracking (the final dump's state
   * collection): Injector.hold() then leaves its infection standing for it. False (the default): hold()
   * cures at once, so that a window with nothing after (a frozen pre-dump) never shows our mapping.
   */
  keepInfection = false;

  /** @internal Created by freeze(); registered at once so that a failing freeze still detaches. */
  constructor(readonly pid: number) {
    registerTracee(this);
  }

  /** 'frozen' until thaw(); 'gone' when the target exited while we held it. */
  get state(): FrozenState {
    return this.stateValue;
  }

  /** Thread ids held, ascending. */
  get tids(): number[] {
    return [...this.threadMap.keys()].sort((a, b) => a - b);
  }

  /** The per-thread state of `tid`. */
  thread(tid: number): FrozenThread | undefined {
    return this.threadMap.get(tid);
  }

  /** PTRACE_GETREGS of a frozen thread. */
  regs(tid: number, into = new Registers()): Registers {
    this.assertFrozen();
    try {
      getRegs(tid, into.bytes);
    } catch (e) {
      throw ptraceErrorFrom(e, tid, 'read the registers of');
    }
    return into;
  }

  /** @internal */
  addThread(tid: number): FrozenThread {
    const t: FrozenThread = { tid, signals: [], groupStop: 0 };
    this.threadMap.set(tid, t);
    return t;
  }

  /** @internal A thread exited while frozen. */
  dropThread(tid: number): void {
    this.threadMap.delete(tid);
  }

  /** True if the process is gone or dying (a zombie): what an ESRCH from a frozen thread means. */
  isDead(): boolean {
    return hasExited(this.pid);
  }

  /**
   * @internal The whole process exited (killed while frozen): nothing left to cure or detach. Reaps the
   * threads we trace (non-leaders first), since a traced thread stays a zombie until its tracer waits for
   * it, and the leader with it.
   */
  markGone(): void {
    if (this.stateValue !== 'frozen') return;
    this.stateValue = 'gone';
    for (const c of [...this.curables]) {
      try {
        c.cure(); // with the process gone, this only releases our side (fds)
      } catch {
        /* nothing to restore in a dead process */
      }
    }
    this.reap(this.tids);
    this.threadMap.clear();
    this.curables.clear();
    unregisterTracee(this);
  }

  /** Wait (up to ~200 ms each) for dying traced threads, non-leaders first, so no zombie is left. */
  private reap(tids: readonly number[]): void {
    const order = tids.filter((t) => t !== this.pid);
    if (tids.includes(this.pid)) order.push(this.pid);
    const cell = new Int32Array(new SharedArrayBuffer(4));
    for (const tid of order) {
      for (let i = 0; i < 200; i++) {
        try {
          const w = waitpid(tid, WAIT.WNOHANG | WAIT.WALL);
          if (w.pid === tid && !WStatus.stopped(w.status)) break;
        } catch {
          break; // ECHILD: reaped or not ours
        }
        Atomics.wait(cell, 0, 0, 1);
      }
    }
  }

  /**
   * @internal An injector registers itself so that thaw() cures it first. One at a time: injectors share
   * the stub site, and a second one would save the first one's stub as the "original" code.
   */
  adopt(c: Curable): void {
    if (this.curables.size > 0) {
      throw new PtraceError(
        'ESTATE',
        `process ${this.pid} is already infected: cure the other injector first`,
      );
    }
    this.curables.add(c);
  }

  /** @internal */
  release(c: Curable): void {
    this.curables.delete(c);
  }

  /** Throws PtraceError ESTATE unless frozen. */
  assertFrozen(): void {
    if (this.stateValue === 'gone') throw new PtraceError('ESRCH', `process ${this.pid} is gone`);
    if (this.stateValue !== 'frozen') {
      throw new PtraceError('ESTATE', `process ${this.pid} is not frozen any more`);
    }
  }

  /**
   * Cure every active injector, then detach every thread (re-delivering remembered signals). Safe to call
   * twice; threads that vanished meanwhile are skipped. Throws the first cure error after detaching.
   */
  thaw(): void {
    if (this.stateValue !== 'frozen') return;
    const t0 = performance.now();
    let firstError: unknown;
    for (const c of [...this.curables]) {
      try {
        c.cure();
      } catch (e) {
        firstError ??= e;
      }
    }
    this.curables.clear();
    if (firstError !== undefined && this.isDead()) {
      this.markGone(); // killed meanwhile: nothing was left to cure
      return;
    }
    const lost: number[] = [];
    for (const t of this.threadMap.values()) {
      const [first = 0, ...rest] = t.signals;
      for (const sig of rest) {
        try {
          syscall(SYS.tgkill, this.pid, t.tid, sig);
        } catch {
          /* thread gone */
        }
      }
      try {
        ptrace(PTRACE.DETACH, t.tid, 0, first);
      } catch {
        lost.push(t.tid); // ESRCH: the thread was killed meanwhile
      }
    }
    if (lost.length > 0 && this.isDead()) this.reap(lost);
    this.threadMap.clear();
    this.stateValue = 'detached';
    const t1 = performance.now();
    this.stats.thawMicros = Math.round((t1 - t0) * 1000);
    if (this.seizedAt > 0) this.stats.stoppedMicros = Math.round((t1 - this.seizedAt) * 1000);
    unregisterTracee(this);
    if (firstError !== undefined) throw firstError;
  }

  [Symbol.dispose](): void {
    this.thaw();
  }
}
