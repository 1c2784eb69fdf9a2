/**
 * Syscall injection into a frozen thread (CRIU's infect/cure), see the lifecycle in frozen-process.ts.
 *
 * infect: save the thread's registers, the 8 code bytes at the injection site and the 256-byte scratch area
 * below the thread's red zone (`(rsp - 128 - 256) & ~15`); write `0f 05 cc` (`syscall; int3`) at the site.
 * The site is the start of the target's first executable mapping (as compel's `find_executable_area`), not
 * RIP: RIP may sit in the vDSO or 1-2 bytes before the end of a mapping. Every thread is frozen, so nothing
 * else runs the patched bytes.
 *
 * each call: rip = site, rax = nr, orig_rax = -1, arguments in rdi rsi rdx r10 r8 r9; SETREGS; CONT; wait
 * for the SIGTRAP of the `int3` (rip = site + 3); GETREGS; the result is rax (-errno on failure).
 * Signals that arrive meanwhile are remembered and re-delivered at detach.
 *
 * cure: munmap the scratch mappings we created, restore the scratch area, the code bytes and the saved
 * registers. Cure runs on every way out: cure() / `using`, thaw() of the FrozenProcess, and the registry's
 * SIGINT/SIGTERM/exit/uncaught-exception handlers.
 *
 * Syscall restart: a thread stopped inside a blocking syscall (e.g. `read()`) was interrupted with
 * rax = -ERESTARTSYS (or another -ERESTART* code) and orig_rax = the syscall number; the kernel has not yet
 * applied its restart logic. Injected calls run with orig_rax = -1, so the kernel never "restarts" them;
 * cure restores the saved rax/orig_rax/rip, so when the thread resumes after detach the kernel applies the
 * restart to the original syscall (rip -= 2, rax = orig_rax) and the `read()` simply continues.
 *
 * @example
 * using frozen = freeze(pid);
 * using inj = Injector.infect(frozen);
 * inj.call('getpid', SYS.getpid) === pid;
 * const addr = inj.mmap(1 << 20);         // unmapped again by cure
 */
import { readMaps } from '../proc/index.js';
import {
  errnoName,
  PTRACE,
  ptrace,
  SIG,
  SYS,
  SysError,
  setRegs,
  WAIT,
  WStatus,
  waitpid,
} from '../sys/index.js';
import { PtraceError, ptraceErrorFrom } from './errors.js';
import type { Curable, FrozenProcess } from './frozen-process.js';
import { Registers } from './registers.js';
import { type MemoryAccess, RemoteMemory } from './remote-memory.js';

const SCRATCH = 256;
const RED_ZONE = 128;
const STUB = Uint8Array.of(0x0f, 0x05, 0xcc); // syscall; int3
const PROT_RW = 3;
const MAP_PRIVATE_ANON = 0x22;

export interface InjectStats {
  /** Injected system calls so far. */
  syscalls: number;
  /** Time spent in them (SETREGS to GETREGS), in microseconds. */
  micros: number;
}

/**
 * Where Injector puts its stub: the start of the first executable mapping that is not a kernel special
 * mapping. Read it before freezing and pass it to infect() to keep the /proc/PID/maps read out of the
 * stopped time.
 */
export function injectionSite(pid: number): number | undefined {
  for (const v of readMaps(pid)) {
    if (v.exec && v.end - v.start >= 8 && !v.path.startsWith('[')) return v.start;
  }
  return undefined;
}

export class Injector implements Curable, Disposable {
  private readonly saved: Registers;
  private readonly work = new Registers();
  private readonly mem: RemoteMemory;
  private readonly savedCode: Buffer;
  private readonly savedScratch: Buffer;
  private readonly mappings = new Map<number, number>();
  private cured = false;
  /** Address of the `syscall; int3` stub in the target. */
  readonly site: number;
  /** A 256-byte, 16-aligned area below the thread's red zone, free for small argument structs. */
  readonly scratch: { readonly address: number; readonly size: number };
  readonly stats: InjectStats = { syscalls: 0, micros: 0 };

  private constructor(
    readonly frozen: FrozenProcess,
    readonly tid: number,
    site?: number,
    memoryAccess: MemoryAccess = 'proc-mem',
  ) {
    frozen.assertFrozen();
    if (!frozen.thread(tid)) throw new PtraceError('EINVAL', `thread ${tid} is not frozen`);
    this.saved = frozen.regs(tid);
    if (site === undefined) {
      try {
        site = injectionSite(frozen.pid);
      } catch (e) {
        throw ptraceErrorFrom(e, frozen.pid, 'read the mappings of');
      }
    }
    this.site = site ?? this.saved.get('rip');
    const sp = this.saved.get('rsp');
    const address = sp - RED_ZONE - SCRATCH - ((sp - RED_ZONE - SCRATCH) % 16);
    this.scratch = { address, size: SCRATCH };
    frozen.adopt(this); // throws if another injector is active
    let mem: RemoteMemory | undefined;
    try {
      mem = RemoteMemory.open(frozen.pid, tid, memoryAccess);
      this.savedCode = mem.read(this.site, 8);
      this.savedScratch = mem.read(address, SCRATCH);
      mem.write(this.site, STUB);
    } catch (e) {
      this.frozen.release(this);
      mem?.close();
      throw e;
    }
    this.mem = mem;
  }

  /**
   * Infect thread `tid` (default: the leader) of a frozen process. `site`: from injectionSite(), read
   * before freezing (default: read now). `memoryAccess`: 'pokedata' forces the PTRACE_POKEDATA path.
   * Only one injector may be active on a process at a time (PtraceError ESTATE otherwise).
   */
  static infect(
    frozen: FrozenProcess,
    tid = frozen.pid,
    site?: number,
    memoryAccess?: MemoryAccess,
  ): Injector {
    return new Injector(frozen, tid, site, memoryAccess);
  }

  /** True until cure(). */
  get infected(): boolean {
    return !this.cured;
  }

  /** Run one system call in the target; returns rax as is (negative errno on failure). */
  syscall(nr: number, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0): number {
    if (this.cured) throw new PtraceError('ESTATE', `thread ${this.tid} is not infected any more`);
    this.frozen.assertFrozen();
    const t0 = performance.now();
    const r = this.work;
    r.copyFrom(this.saved);
    r.set('rip', this.site);
    r.set('rax', nr);
    r.set('orig_rax', -1);
    r.set('rdi', a1);
    r.set('rsi', a2);
    r.set('rdx', a3);
    r.set('r10', a4);
    r.set('r8', a5);
    r.set('r9', a6);
    try {
      setRegs(this.tid, r.bytes);
      ptrace(PTRACE.CONT, this.tid, 0, 0);
      this.waitTrap();
    } catch (e) {
      const err = ptraceErrorFrom(e, this.frozen.pid, `inject syscall ${nr} into`);
      if (err instanceof PtraceError && err.code === 'ESRCH' && this.frozen.isDead()) this.frozen.markGone();
      throw err;
    }
    this.stats.syscalls++;
    this.stats.micros += Math.round((performance.now() - t0) * 1000);
    return r.getSigned('rax');
  }

  /** Like syscall(), but throws PtraceError EINJECT (with the errno name) when the call fails. */
  call(name: string, nr: number, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0): number {
    const r = this.syscall(nr, a1, a2, a3, a4, a5, a6);
    if (r < 0 && r > -4096) {
      const errno = errnoName(-r);
      throw new PtraceError('EINJECT', `${name} in process ${this.frozen.pid}: ${errno}`, { errno });
    }
    return r;
  }

  /** Inject mmap of a private anonymous read-write mapping of `len` bytes; cure() unmaps it. */
  mmap(len: number): number {
    const addr = this.call('mmap', SYS.mmap, 0, len, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
    this.mappings.set(addr, len);
    return addr;
  }

  /** Inject munmap of a mapping made by mmap() (or of any range, at the caller's risk). */
  munmap(addr: number, len = this.mappings.get(addr) ?? 0): void {
    this.call('munmap', SYS.munmap, addr, len);
    this.mappings.delete(addr);
  }

  /** Write into the target's memory (scratch area, injected mappings). */
  write(addr: number, bytes: Uint8Array): void {
    this.mem.write(addr, bytes);
  }

  /** Read from the target's memory. */
  read(addr: number, len: number): Buffer {
    return this.mem.read(addr, len);
  }

  private waitTrap(): void {
    const thread = this.frozen.thread(this.tid)!;
    for (;;) {
      let s: number;
      try {
        s = waitpid(this.tid, WAIT.WALL).status;
      } catch (e) {
        if (e instanceof SysError && e.code === 'ECHILD')
          s = 0x9; // treat as killed
        else throw e;
      }
      if (!WStatus.stopped(s)) {
        this.frozen.markGone();
        throw new PtraceError('ESRCH', `process ${this.frozen.pid} exited during an injected syscall`);
      }
      const sig = WStatus.stopSig(s);
      const ev = WStatus.event(s);
      if (ev === 0 && sig === SIG.SIGTRAP) {
        this.frozen.regs(this.tid, this.work);
        if (this.work.get('rip') === this.site + STUB.length) return;
      }
      if (ev === 0) thread.signals.push(sig);
      else if (ev === PTRACE.EVENT_STOP && sig !== SIG.SIGTRAP) thread.groupStop = sig;
      ptrace(PTRACE.CONT, this.tid, 0, 0);
    }
  }

  /**
   * Undo the infection: unmap our mappings, restore scratch, code and registers. Safe to call twice; a
   * target that is gone needs nothing. Throws the first failure after trying every step.
   */
  cure(): void {
    if (this.cured) return;
    let first: unknown;
    const step = (f: () => void) => {
      try {
        f();
      } catch (e) {
        first ??= e;
      }
    };
    if (this.frozen.state === 'frozen') {
      for (const [addr, len] of [...this.mappings]) step(() => this.munmap(addr, len));
      this.cured = true;
      step(() => this.mem.write(this.scratch.address, this.savedScratch));
      step(() => this.mem.write(this.site, this.savedCode));
      step(() => setRegs(this.tid, this.saved.bytes));
    }
    this.cured = true;
    this.frozen.release(this);
    this.mem.close();
    if (first !== undefined) throw first;
  }

  [Symbol.dispose](): void {
    this.cure();
  }
}
