/**
 * The process being restored, from ckpt's side: a tracee in a ptrace stop that runs one system call at a
 * time from a `syscall` instruction of ours (first the injector's stub inherited from the helper, then the
 * trampoline), and whose memory ckpt writes through /proc/PID/mem (which ignores page protections) or
 * process_vm_writev.
 *
 * ```
 * call(nr, args): regs = template, rip = syscallAt, rax = nr, orig_rax = -1, args
 *   from the trampoline ("syscall; int3", useTrampoline):
 *     SETREGS; PTRACE_CONT -> the int3's SIGTRAP stop (suppressed by the next resume); GETREGS: rax
 *   else (the stub inherited from the helper; callUntilExit: a call that unmaps its own code):
 *     SETREGS; PTRACE_SYSCALL -> syscall-entry stop; PTRACE_SYSCALL -> syscall-exit stop; GETREGS: rax
 * ```
 * One stop a call instead of two: a restore makes ~130 calls, each stop a round trip through the
 * scheduler of a busy machine (the downtime of a migration waits on them).
 * The thread never runs a user instruction: it only enters and leaves the kernel. The tracee carries
 * PTRACE_O_EXITKILL, so ckpt dying at any moment kills it (a half-built process never runs). kill() ends
 * and reaps it; detach() lets it run with the registers last set.
 *
 * @example
 * using t = new RemoteTask(pid, stubAddress);
 * t.call('getpid', SYS.getpid) === pid;
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { Registers } from '../ptrace/index.js';
import {
  errnoName,
  getRegs,
  PTRACE,
  PTRACE_O,
  ptrace,
  SIG,
  SysError,
  setRegs,
  setSigmask,
  WAIT,
  WStatus,
  waitpid,
} from '../sys/index.js';
import { RestoreError } from './errors.js';

const SYS_EXIT_GROUP = 231;
const SYS_KILL = 62;

import { killAndReap } from './reap.js';

const SYSCALL_STOP = SIG.SIGTRAP | 0x80;

export class RemoteTask implements Disposable {
  /** The registers every call starts from (the thread's own at its first stop). */
  readonly template = new Registers();
  private readonly work = new Registers();
  private memFd: number;
  private state: 'stopped' | 'detached' | 'dead' = 'stopped';
  /** Injected system calls so far. */
  calls = 0;
  /** Whether `syscallAt` is followed by an int3 (the trampoline's code). */
  private trapAfter = false;
  private untilExit = false;

  /** `pid`: a tracee of this process in a ptrace stop. `syscallAt`: a `syscall` instruction in it. */
  constructor(
    readonly pid: number,
    public syscallAt: number,
  ) {
    ptrace(
      PTRACE.SETOPTIONS,
      pid,
      0,
      PTRACE_O.TRACESYSGOOD | PTRACE_O.TRACECLONE | PTRACE_O.TRACEFORK | PTRACE_O.EXITKILL,
    );
    getRegs(pid, this.template.bytes);
    this.memFd = openSync(`/proc/${pid}/mem`, 'r+');
  }

  /** Calls run from the trampoline at `at` from now on: its `syscall` is followed by an int3. */
  useTrampoline(at: number): void {
    this.syscallAt = at;
    this.trapAfter = true;
  }

  /**
   * Like call(), stopped at the syscall's exit rather than at the int3 after it: a call that unmaps the
   * trampoline itself (the last one of a restore).
   */
  callUntilExit(what: string, nr: number, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0): number {
    this.untilExit = true;
    try {
      return this.call(what, nr, a1, a2, a3, a4, a5, a6);
    } finally {
      this.untilExit = false;
    }
  }

  /** Run system call `nr`; returns rax as is (negative errno on failure). */
  syscall(nr: number, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0): number {
    if (this.state !== 'stopped') throw new Error(`process ${this.pid} is ${this.state}`);
    const r = this.work;
    r.copyFrom(this.template);
    r.set('rip', this.syscallAt);
    r.set('rax', nr);
    r.set('orig_rax', -1);
    r.set('rdi', a1);
    r.set('rsi', a2);
    r.set('rdx', a3);
    r.set('r10', a4);
    r.set('r8', a5);
    r.set('r9', a6);
    setRegs(this.pid, r.bytes);
    if (this.trapAfter && !this.untilExit) {
      ptrace(PTRACE.CONT, this.pid, 0, 0);
      this.waitStop(nr, (s) => WStatus.event(s) === 0 && WStatus.stopSig(s) === SIG.SIGTRAP, PTRACE.CONT);
    } else {
      ptrace(PTRACE.SYSCALL, this.pid, 0, 0);
      this.waitSyscallStop(nr);
      ptrace(PTRACE.SYSCALL, this.pid, 0, 0);
      this.waitSyscallStop(nr);
    }
    getRegs(this.pid, r.bytes);
    this.calls++;
    return r.result('rax');
  }

  /** Like syscall(), but a failure is a RestoreError (ENOENT, EPERM, else EIO) naming `what` and the errno. */
  call(what: string, nr: number, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0): number {
    const r = this.syscall(nr, a1, a2, a3, a4, a5, a6);
    if (r < 0 && r > -4096) {
      const errno = errnoName(-r);
      const code = errno === 'ENOENT' ? 'ENOENT' : errno === 'EPERM' || errno === 'EACCES' ? 'EPERM' : 'EIO';
      throw new RestoreError(code, `${what} in process ${this.pid}: ${errno}`, { cause: -r });
    }
    return r;
  }

  /** Wait for the next syscall-stop, resuming past other stops (signals sent meanwhile are dropped). */
  private waitSyscallStop(nr: number): void {
    this.waitStop(nr, (s) => WStatus.event(s) === 0 && WStatus.stopSig(s) === SYSCALL_STOP, PTRACE.SYSCALL);
  }

  /** Wait for the stop `ends` accepts, resuming past others with `resume` (their signals dropped). */
  private waitStop(nr: number, ends: (status: number) => boolean, resume: number): void {
    for (;;) {
      let s: number;
      try {
        s = waitpid(this.pid, WAIT.WALL).status;
      } catch (e) {
        if (e instanceof SysError && e.code === 'ECHILD') s = 0x9;
        else throw e;
      }
      if (!WStatus.stopped(s)) {
        this.state = 'dead';
        throw new RestoreError('EIO', `process ${this.pid} died during system call ${nr}`);
      }
      if (ends(s)) return;
      ptrace(resume, this.pid, 0, 0);
    }
  }

  /** Write `bytes` at `addr` (through /proc/PID/mem: read-only pages too). */
  write(addr: number, bytes: Uint8Array): void {
    const n = writeSync(this.memFd, bytes, 0, bytes.length, addr);
    if (n !== bytes.length)
      throw new RestoreError('EIO', `short write at 0x${addr.toString(16)} in process ${this.pid}`);
  }

  /** Read `len` bytes at `addr`. */
  read(addr: number, len: number): Buffer {
    const b = Buffer.alloc(len);
    const n = readSync(this.memFd, b, 0, len, addr);
    return b.subarray(0, n);
  }

  /** The registers at the last stop (after a call: its syscall-exit state). */
  get lastRegs(): Registers {
    return this.work;
  }

  /**
   * End the process with wait status `status` (exit code << 8, or a signal in its low 7 bits), unblocked,
   * from the trampoline: exit_group(code), or kill(self, signal) with the signal let through at its
   * delivery stop (its disposition must be the default one). The tracer's wait takes only the ptrace
   * notice: the process stays a zombie for its parent (restore/zombie.ts).
   */
  endAs(status: number): void {
    if (this.state !== 'stopped') throw new Error(`process ${this.pid} is ${this.state}`);
    const sig = status & 0x7f;
    setSigmask(this.pid, 0n);
    const r = this.work;
    r.copyFrom(this.template);
    r.set('rip', this.syscallAt);
    r.set('orig_rax', -1);
    if (sig === 0) {
      r.set('rax', SYS_EXIT_GROUP);
      r.set('rdi', (status >> 8) & 0xff);
    } else {
      r.set('rax', SYS_KILL);
      r.set('rdi', this.pid);
      r.set('rsi', sig);
    }
    setRegs(this.pid, r.bytes);
    ptrace(PTRACE.CONT, this.pid, 0, 0);
    for (;;) {
      const s = waitpid(this.pid, WAIT.WALL).status;
      if (!WStatus.stopped(s)) break;
      const stop = WStatus.event(s) === 0 ? WStatus.stopSig(s) : 0;
      ptrace(PTRACE.CONT, this.pid, 0, stop === sig ? sig : 0);
    }
    this.state = 'dead';
    this.closeMem();
  }

  /** Let the process run from its current registers. */
  detach(): void {
    if (this.state !== 'stopped') return;
    ptrace(PTRACE.DETACH, this.pid, 0, 0);
    this.state = 'detached';
    this.closeMem();
  }

  /** SIGKILL the process and reap it (it is ours: traced, and our child or the helper's). Safe twice. */
  kill(): void {
    this.closeMem();
    if (this.state === 'dead') return;
    killAndReap(this.pid);
    this.state = 'dead';
  }

  private closeMem(): void {
    if (this.memFd >= 0) closeSync(this.memFd);
    this.memFd = -1;
  }

  [Symbol.dispose](): void {
    if (this.state === 'stopped') this.kill();
  }
}
