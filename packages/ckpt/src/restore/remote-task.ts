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
 * scheduler of a busy machine (the downtime of a migration waits on them). Calls whose result nobody
 * needs at once are queued instead (queue(): a batch, call-batch.ts) and run together by the trampoline's
 * loop, in one stop, when something needs the process as it would be after them: a single call (which
 * joins the batch as its last entry), a read or write of its memory, flush(), detach() or an end. A
 * queued call's failure is thrown there, naming the call.
 * The thread never runs a user instruction: it only enters and leaves the kernel. The tracee carries
 * PTRACE_O_EXITKILL, so ckpt dying at any moment kills it (a half-built process never runs). kill() ends
 * and reaps it; detach() lets it run with the registers last set.
 *
 * @example
 * using t = new RemoteTask(pid, stubAddress);
 * t.call('getpid', SYS.getpid) === pid;
 * t.queue('umask', SYS.umask, [0o22], { mayFail: true }); // runs with the next call or flush()
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { Registers } from '../ptrace/index.js';
import {
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
import {
  type BatchRunner,
  type CallArgs,
  CallBatch,
  callError,
  type Data,
  dataSize,
  errnoOf,
  type QueueOptions,
} from './call-batch.js';
import { RestoreError } from './errors.js';
import { killAndReap } from './reap.js';
import { ARG_OFFSET, BATCH_OFFSET } from './trampoline.js';

const SYS_EXIT_GROUP = 231;
const SYS_KILL = 62;
/** Not a system call: resume() runs the batch loop (rax is loaded from the table). */
const SYS_BATCH = -1;

const SYSCALL_STOP = SIG.SIGTRAP | 0x80;

export class RemoteTask implements Disposable {
  /** The registers every call starts from (the thread's own at its first stop). */
  readonly template = new Registers();
  private readonly work = new Registers();
  private memFd: number;
  private state: 'stopped' | 'detached' | 'dead' = 'stopped';
  /** Injected system calls so far. */
  calls = 0;
  /** Ptrace stops they took (a batch runs many calls in one). */
  stops = 0;
  /** Calls queued, not run yet (from the trampoline only). */
  private batch: CallBatch | undefined;
  private readonly runner: BatchRunner;
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
    // the batch's access to the process (no flush: the batch is what runs)
    this.runner = {
      pid,
      writeMem: (addr, bytes) => this.writeMem(addr, bytes),
      readMem: (addr, len) => this.readMem(addr, len),
      runLoop: (from, end) => {
        this.resume(SYS_BATCH, BATCH_OFFSET, [], from, end);
        return { next: Number(this.work.get('r12')), rax: this.work.result('rax') };
      },
    };
  }

  /** Calls run from the trampoline at `at` from now on: its `syscall` is followed by an int3. */
  useTrampoline(at: number): void {
    this.syscallAt = at;
    this.trapAfter = true;
    this.batch = new CallBatch(at + ARG_OFFSET);
  }

  /**
   * Queue system call `nr` (see the module comment): it runs, in order, before anything that needs the
   * process as it would be after it. A failure (unless `o.mayFail`) is a RestoreError naming `what`,
   * thrown by whatever ran the batch; `o.onResult` gets the result. Before the trampoline is in use, the call
   * runs at once.
   */
  queue(what: string, nr: number, args: CallArgs, o: QueueOptions = {}): void {
    const batch = this.batch;
    if (!batch) {
      if (o.data || typeof args === 'function') throw new Error(`${what}: data before the trampoline`);
      const r = o.mayFail ? this.syscall(nr, ...args) : this.call(what, nr, ...args);
      o.onResult?.(r);
      return;
    }
    const at = o.data ? this.place(o.data) : 0;
    if (!batch.fits(0)) this.flush(); // its data stays for it
    batch.add(what, nr, typeof args === 'function' ? args(at) : args, o);
  }

  /**
   * Bytes for a call made next (queued or single): placed in the trampoline's argument area, written
   * with the batch that runs the call; returns their address. Throws RestoreError ENOTSUP past MAX_DATA.
   */
  place(data: Data): number {
    const batch = this.batch;
    if (!batch) throw new Error('data before the trampoline');
    if (!batch.fits(dataSize(data))) {
      this.flush();
      if (!batch.fits(dataSize(data)))
        throw new RestoreError('ENOTSUP', `an argument of ${dataSize(data)} bytes does not fit`);
    }
    return batch.place(data);
  }

  /** Run the queued calls (one stop; more only past a failure that may fail). */
  flush(): void {
    if (!this.batch?.pending) return;
    const r = this.batch.run(this.runner);
    this.calls += r.calls;
    if (r.failure) throw r.failure;
  }

  /**
   * Like call(), stopped at the syscall's exit rather than at the int3 after it: a call that unmaps the
   * trampoline itself (the last one of a restore).
   */
  callUntilExit(what: string, nr: number, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0): number {
    this.flush();
    this.untilExit = true;
    try {
      return this.call(what, nr, a1, a2, a3, a4, a5, a6);
    } finally {
      this.untilExit = false;
    }
  }

  /**
   * Run system call `nr`; returns rax as is (negative errno on failure). Queued calls run first, in the
   * same stop (this call is the batch's last entry).
   */
  syscall(nr: number, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0): number {
    if (this.state !== 'stopped') throw new Error(`process ${this.pid} is ${this.state}`);
    if (this.batch?.pending && !this.untilExit) {
      this.queue(`system call ${nr}`, nr, [a1, a2, a3, a4, a5, a6], { mayFail: true });
      const r = this.batch.run(this.runner);
      this.calls += r.calls;
      if (r.failure) throw r.failure;
      return r.last;
    }
    this.resume(nr, 0, [a1, a2, a3, a4, a5, a6]);
    this.calls++;
    return this.work.result('rax');
  }

  /**
   * Set the registers (the template's, rip at the trampoline + `offset`, rax = `nr`, the arguments, r12
   * and r13 for the batch loop), run to the int3 after it (or the syscall's exit: untilExit, or no
   * trampoline yet) and read the registers back into `work`.
   */
  private resume(nr: number, offset: number, args: readonly number[], r12 = 0, r13 = 0): void {
    const r = this.work;
    r.copyFrom(this.template);
    r.set('rip', this.syscallAt + offset);
    r.set('rax', nr);
    r.set('orig_rax', -1);
    for (const [i, reg] of (['rdi', 'rsi', 'rdx', 'r10', 'r8', 'r9'] as const).entries())
      r.set(reg, args[i] ?? 0);
    if (nr === SYS_BATCH) {
      r.set('r12', r12);
      r.set('r13', r13);
    }
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
    this.stops++;
  }

  /** Like syscall(), but a failure is a RestoreError (ENOENT, EPERM, else EIO) naming `what` and the errno. */
  call(what: string, nr: number, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0): number {
    const r = this.syscall(nr, a1, a2, a3, a4, a5, a6);
    const errno = errnoOf(r);
    if (errno !== 0) throw callError(what, this.pid, errno);
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

  /** Write `bytes` at `addr` (through /proc/PID/mem: read-only pages too), the queued calls run first. */
  write(addr: number, bytes: Uint8Array): void {
    this.flush();
    this.writeMem(addr, bytes);
  }

  /** Read `len` bytes at `addr`, the queued calls run first. */
  read(addr: number, len: number): Buffer {
    this.flush();
    return this.readMem(addr, len);
  }

  /**
   * Read `len` bytes at `addr` as they are now, the queued calls not run (no stop): for memory none of
   * them touches (the vdso's code, while the file descriptors' calls wait).
   */
  peek(addr: number, len: number): Buffer {
    return this.readMem(addr, len);
  }

  private writeMem(addr: number, bytes: Uint8Array): void {
    const n = writeSync(this.memFd, bytes, 0, bytes.length, addr);
    if (n !== bytes.length)
      throw new RestoreError('EIO', `short write at 0x${addr.toString(16)} in process ${this.pid}`);
  }

  private readMem(addr: number, len: number): Buffer {
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
    this.flush();
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
    this.flush();
    ptrace(PTRACE.DETACH, this.pid, 0, 0);
    this.state = 'detached';
    this.closeMem();
  }

  /** SIGKILL the process and reap it (it is ours: traced, and our child or the helper's). Safe twice. */
  kill(): void {
    this.batch?.clear();
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
