/**
 * Syscall injection into a frozen thread (CRIU's infect/cure), see the lifecycle in frozen-process.ts,
 * built so that SIGKILL of ckpt at any moment leaves the target running as if nothing happened: between
 * two ptrace stops the thread is always in a state it survives on its own (resume-stub.ts).
 *
 * ```
 * infect:  save regs, 51 code bytes at the site, 256 stack bytes below the red zone
 *   1. site call: write the resume stub at the site, its frame on the stack; mmap(3 pages, r-x)
 *      (the only call run from the target's own code, ~50 µs; the site is the start of the first
 *      executable mapping, `_init`, which no thread runs again)
 *   2. write signature + stub into the new page, its frame into the data pages; park the thread on the
 *      page's stub (rip = stub + 2: "restore and resume"); put the site code and stack bytes back
 *   3. from the page: mprotect(data pages, rw), prctl(PR_SET_VMA_ANON_NAME, "ckpt-injector")
 * each call: regs = resume state, rip = stub, rax = nr, orig_rax = -1, args in rdi rsi rdx r10 r8 r9;
 *   SETREGS; PTRACE_SYSCALL; wait syscall-entry; PTRACE_SYSCALL; wait syscall-exit; GETREGS: rax
 * batch (call-batch.ts): a table of calls run by a loop in the page; SETREGS; PTRACE_CONT; ONE stop at
 *   its end (a signal the target ignores, sent to itself; without us it runs on into the restore)
 * guest(tid) (guest-thread.ts): another thread runs batches from this page (its stub in a slot, its
 *   frame on its own stack); cured with its saved registers at its batch's stop, before the munmap
 * hold(): back to an EVENT_STOP with the saved registers, the mapping kept; the next infect() of the
 *   same frozen process takes this injector over (one infection per process for a frozen window)
 * cure: guests first; munmap our data mappings (from the page); site call munmap(scratch mapping) as in 1;
 *   PTRACE_INTERRUPT + CONT: back into the kernel's signal path (an EVENT_STOP, as after freeze);
 *   SETREGS the saved registers; put the site code and stack bytes back; re-queue remembered signals
 * ```
 * If ckpt dies at any step, the kernel detaches the thread and it runs on from its stop: through the stub
 * (finishing the injected call, then restoring its registers) or from its own registers. What can remain:
 * the scratch mapping (3 pages, `[anon:ckpt-injector]`, signed: findScratchMappings()), a data mapping or
 * fd an injected call had just made, the 51 bytes at the site when ckpt died within a site call (the
 * thread does not run them), and a guest's frame below its red zone (free stack). Signals caught in signal-delivery-stops while frozen are lost then.
 *
 * Syscall restart: a thread stopped inside a blocking syscall (e.g. `read()`) was interrupted with
 * rax = -ERESTARTSYS and orig_rax = the syscall number. Injected calls run with orig_rax = -1, so the
 * kernel never "restarts" them; the stub resumes with the restart applied (rip -= 2, rax = orig_rax), and
 * cure goes back to an EVENT_STOP with the saved registers, so the kernel applies the restart itself on
 * detach and the `read()` simply continues.
 *
 * @example
 * using frozen = freeze(pid);
 * using inj = Injector.infect(frozen);
 * inj.call('getpid', SYS.getpid) === pid;
 * const addr = inj.mmap(1 << 20);         // unmapped again by cure
 */
import { readMaps, type Vma } from '../proc/index.js';
import {
  errnoName,
  getSigmask,
  syscall as hostSyscall,
  PTRACE,
  ptrace,
  SYS,
  SysError,
  setRegs,
} from '../sys/index.js';
import {
  BATCH_ENTRY_SIZE,
  type BatchCall,
  type BatchThread,
  batchCode,
  batchResults,
  batchTable,
  quietSignal,
} from './call-batch.js';
import { PtraceError, ptraceErrorFrom } from './errors.js';
import type { Curable, FrozenProcess } from './frozen-process.js';
import { findGadgets } from './gadgets.js';
import { GuestThread } from './guest-thread.js';
import { firstExecutable, takeMaps } from './injection-site.js';
import { Registers } from './registers.js';
import { type MemoryAccess, RemoteMemory, writableByTarget } from './remote-memory.js';
import { AFTER_SYSCALL, restoreFrame, resumeRegisters, resumeStub } from './resume-stub.js';
import {
  BATCH_OFFSET,
  BATCH_TABLE_ENTRIES,
  BATCH_TABLE_OFFSET,
  DATA_OFFSET,
  DATA_SIZE,
  FRAME_OFFSET,
  guestStubOffset,
  SCRATCH_ADDRESS,
  SCRATCH_NAME,
  SCRATCH_SIZE,
  STUB_OFFSET,
  scratchSignature,
  TABLE_SLOTS,
  tableSlot,
} from './scratch-mapping.js';
import { SiteCall } from './site-call.js';
import { requeueSignals, type StopKind, waitForStop } from './thread-stops.js';

const _RED_ZONE = 128;
const PROT_RW = 3;
const PROT_RX = 5;
const MAP_PRIVATE_ANON = 0x22;
const PR_SET_VMA = 0x53564d41;
const PR_SET_VMA_ANON_NAME = 0;
const EINVAL = 22;
/** False once a kernel refused PR_SET_VMA_ANON_NAME (no CONFIG_ANON_VMA_NAME): not asked again. */
let anonNames: boolean | undefined;

/**
 * Whether this kernel names anonymous mappings: asked once of our own process (an empty range: names
 * nothing), since a batch's prctl answers nobody (its result is not stored: protectAndName).
 */
function namesMappings(): boolean {
  if (anonNames === undefined) {
    try {
      hostSyscall(SYS.prctl, PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0, 0, 0);
      anonNames = true;
    } catch {
      anonNames = false;
    }
  }
  return anonNames;
}
/** Where the anon name strings live in the data page (the end of it; callers get the rest). */
const NAME_AREA = 64;

export interface InjectStats {
  /** Injected system calls so far (including the injector's own: mmap, mprotect, prctl, munmap). */
  syscalls: number;
  /** Time spent in them (SETREGS to GETREGS), in microseconds. */
  micros: number;
  /** ptrace stops waited for (each a scheduler round trip of the target's thread). */
  stops: number;
  /** Batches run (call-batch.ts: one stop for a table of calls). */
  batches: number;
}

/** Options of Injector.infect. */
export interface InjectOptions {
  /** From injectionSite(), read before freezing (default: read now). */
  readonly site?: number;
  /** 'pokedata' forces the PTRACE_POKEDATA path for writes. */
  readonly memoryAccess?: MemoryAccess;
  /**
   * Test hook, called at every point where the thread is stopped in a state of ours (e.g. 'site-entry',
   * 'parked', 'exit'): a test tracer SIGKILLs itself there to check that the target survives it.
   */
  readonly onStep?: (step: string) => void;
  /** Test hook: run the first and last calls from a stub patched at the site, as without gadgets. */
  readonly patchSite?: boolean;
}

/** Injectors left standing by hold(), taken over by the next infect() of their frozen process. */
const held = new WeakMap<FrozenProcess, Injector>();

export class Injector implements Curable, Disposable {
  private readonly saved: Registers;
  /** The registers the thread resumes with on its own (syscall restart applied, orig_rax = -1). */
  private readonly resume: Registers;
  private readonly work = new Registers();
  private readonly mem: RemoteMemory;
  /** How the first and last calls run (site-call.ts). */
  private siteCode!: SiteCall;
  private readonly mappings = new Map<number, number>();
  /** Slot of each data mapping in the scratch mapping's table (scratch-mapping.ts). */
  private readonly slots = new Map<number, number>();
  private readonly onStep: (step: string) => void;
  /** Address of the scratch mapping (0: none). */
  private base = 0;
  /** The thread's registers were changed (it stands in a stub). */
  private moved = false;
  /**
   * The thread stands in a stop of the kernel's signal path (an EVENT_STOP, a batch's end), where its
   * saved registers mean what they meant at the freeze (syscall restart at detach); not at a syscall stop.
   */
  private inSignalPath = true;
  private cured = false;
  /** The thread's quiet signal (call-batch.ts; 0: none), read at the first batch. */
  private quiet: number | undefined;
  /** The mappings read at infect (guest(): the other threads' stacks). */
  private readonly maps: readonly Vma[];
  /** Other threads running from our scratch mapping (guest-thread.ts), cured before it is unmapped. */
  private readonly guests: GuestThread[] = [];
  /** Address of the first executable mapping, where the first and last calls run. */
  readonly site: number;
  /** A 16-aligned area of the scratch mapping, free for small argument structs (0 size after cure). */
  readonly scratch: { readonly address: number; readonly size: number };
  readonly stats: InjectStats = { syscalls: 0, micros: 0, stops: 0, batches: 0 };

  private constructor(
    readonly frozen: FrozenProcess,
    readonly tid: number,
    options: InjectOptions,
  ) {
    frozen.assertFrozen();
    if (!frozen.thread(tid)) throw new PtraceError('EINVAL', `thread ${tid} is not frozen`);
    this.onStep = options.onStep ?? (() => {});
    this.saved = frozen.regs(tid);
    this.resume = resumeRegisters(this.saved);
    let site = options.site;
    // read before freezing: the site is the first executable mapping of these maps when not given
    let maps = takeMaps(frozen.pid);
    try {
      maps ??= readMaps(frozen.pid);
    } catch (e) {
      throw ptraceErrorFrom(e, frozen.pid, 'read the mappings of');
    }
    site ??= firstExecutable(maps);
    if (site === undefined)
      throw new PtraceError('EINVAL', `process ${frozen.pid} has no executable mapping`);
    this.site = site;
    this.maps = maps;
    const gadgets = options.patchSite ? undefined : findGadgets(maps);
    frozen.adopt(this); // throws if another injector is active
    try {
      this.mem = RemoteMemory.open(frozen.pid, tid, options.memoryAccess);
      try {
        this.siteCode = new SiteCall(this.mem, tid, site, this.resume, maps, gadgets);
      } catch (e) {
        this.mem.close();
        throw e;
      }
    } catch (e) {
      this.frozen.release(this);
      throw e;
    }
    try {
      ptrace(PTRACE.SETOPTIONS, tid, 0, PTRACE.O_TRACESYSGOOD);
      this.base = this.mapScratch();
      this.scratch = { address: this.base + DATA_OFFSET, size: DATA_SIZE - NAME_AREA };
    } catch (e) {
      this.scratch = { address: 0, size: 0 };
      try {
        this.cure();
      } catch {
        /* the original error matters more */
      }
      throw e instanceof SysError ? ptraceErrorFrom(e, frozen.pid, 'infect') : e;
    }
  }

  /**
   * Infect thread `tid` (default: the leader) of a frozen process. `site`: from injectionSite(), read
   * before freezing (default: read now). `memoryAccess`: 'pokedata' forces the PTRACE_POKEDATA path.
   * Only one injector may be active on a process at a time (PtraceError ESTATE otherwise), except one
   * left standing by hold(): the infect of the same thread gets it back (its site and options stay),
   * that of another thread cures it first.
   */
  static infect(
    frozen: FrozenProcess,
    tid = frozen.pid,
    site?: number,
    memoryAccess?: MemoryAccess,
    options: Omit<InjectOptions, 'site' | 'memoryAccess'> = {},
  ): Injector {
    const h = held.get(frozen);
    if (h) {
      held.delete(frozen);
      if (h.infected && h.tid === tid && frozen.state === 'frozen') return h;
      h.cure();
    }
    return new Injector(frozen, tid, { ...options, site, memoryAccess });
  }

  /**
   * Where the frozen process says so (FrozenProcess.keepInfection; else this cures now): leave this
   * infection standing for the next Injector.infect of the same frozen process, which takes it over (one infection for several users of a frozen window: ending tracking's close, then the
   * state collection); cured by that user, by an infect of another thread, or by thaw at the latest.
   * The thread is put back at an EVENT_STOP with its own registers meanwhile (one stop, none after a
   * batch), its guests cured (no stop): what reads registers or memory in between (thread-state.ts, a
   * check of the dump against memory) reads the target's own, but for the scratch mapping. Whoever
   * reads the process's mappings for images reads them after the cure, or leaves ownRanges out.
   *
   * @example
   * frozen.keepInfection = true;  // the caller collects state after ending tracking
   * const inj = Injector.infect(frozen); inj.call('close', SYS.close, fd); inj.hold();
   * using again = Injector.infect(frozen); // the same injector: no second mapping
   */
  hold(): void {
    if (!this.infected || this.frozen.state !== 'frozen') return;
    if (!this.frozen.keepInfection) {
      this.cure(); // nobody injects after us in this window
      return;
    }
    // the guests back now (their registers and stack bytes: no stop), the scratch mapping kept
    for (const g of this.guests) {
      try {
        g.cure();
      } catch (e) {
        this.base = 0; // it may still stand in its stub: the mapping stays, as cure() leaves it then
        throw e;
      }
    }
    if (this.moved) {
      if (!this.inSignalPath) this.toEventStop();
      setRegs(this.tid, this.saved.bytes);
      requeueSignals(this.frozen, this.tid); // pending again: a DETACH from an EVENT_STOP would drop them
      this.moved = false; // the next call moves it again
    }
    held.set(this.frozen, this);
    this.onStep('held');
  }

  /** True until cure(). */
  get infected(): boolean {
    return !this.cured;
  }

  /**
   * The target's address ranges that are ours (the scratch mapping, the data mappings), ascending: what
   * a reader of its mappings leaves out while this injector stands (hold()); empty once cured.
   */
  get ownRanges(): readonly { readonly start: number; readonly end: number }[] {
    if (this.cured) return [];
    const out = [...this.mappings].map(([start, len]) => ({ start, end: start + len }));
    if (this.base !== 0) out.push({ start: this.base, end: this.base + SCRATCH_SIZE });
    return out.sort((a, b) => a.start - b.start);
  }

  /** Address of the resume stub every call after the first runs from (0 before infect finished). */
  get stub(): number {
    return this.base === 0 ? 0 : this.base + STUB_OFFSET;
  }

  /** Steps 1-3 of infect: returns the scratch mapping's address; the site is restored. */
  private mapScratch(): number {
    // SCRATCH_ADDRESS as a hint: there where it is free (known as ours even before it is signed), else
    // where the kernel chooses; one call either way
    const base = this.siteCall(SYS.mmap, SCRATCH_ADDRESS, SCRATCH_SIZE, PROT_RX, MAP_PRIVATE_ANON, -1, 0);
    if (base < 0 && base > -4096) {
      throw new PtraceError('EINJECT', `mmap in process ${this.frozen.pid}: ${errnoName(-base)}`, {
        errno: errnoName(-base),
      });
    }
    this.base = base;
    const stub = base + STUB_OFFSET;
    const code = Buffer.alloc(BATCH_OFFSET + batchCode().length);
    code.set(scratchSignature(process.pid), 0);
    code.set(resumeStub(base + FRAME_OFFSET, this.resume.address('rip')), STUB_OFFSET);
    code.set(batchCode(), BATCH_OFFSET);
    this.mem.write(base, code);
    this.mem.write(base + FRAME_OFFSET, restoreFrame(this.resume));
    this.park(stub + AFTER_SYSCALL);
    this.onStep('parked');
    this.siteCode.restore();
    this.onStep('site-restored');
    this.protectAndName(base);
    return base;
  }

  /**
   * Step 3 of infect: mprotect(data pages, rw) and the name, as one batch where the thread has a quiet
   * signal (one stop instead of four). Their results are not stored (a store into the data pages before
   * the mprotect took would fault in the target): process_vm_writev, which honours the protection
   * (/proc/PID/mem does not), tells whether the pages are writable now.
   */
  private protectAndName(base: number): void {
    this.quiet ??= quietSignal(this.frozen.pid, this.tid, getSigmask(this.tid));
    if (this.quiet === 0) {
      this.call('mprotect', SYS.mprotect, base + DATA_OFFSET, SCRATCH_SIZE - DATA_OFFSET, PROT_RW);
      this.name(base, SCRATCH_SIZE, SCRATCH_NAME);
      return;
    }
    const calls: BatchCall[] = [
      { nr: SYS.mprotect, args: [base + DATA_OFFSET, SCRATCH_SIZE - DATA_OFFSET, PROT_RW], discard: true },
    ];
    if (namesMappings()) {
      const at = base + DATA_OFFSET + DATA_SIZE - NAME_AREA;
      this.mem.write(at, Buffer.from(`${SCRATCH_NAME}\0`, 'latin1'));
      calls.push({
        nr: SYS.prctl,
        args: [PR_SET_VMA, PR_SET_VMA_ANON_NAME, base, SCRATCH_SIZE, at],
        discard: true,
      });
    }
    this.runBatch({ tid: this.tid, resume: this.resume, stub: base + STUB_OFFSET, quiet: this.quiet }, calls);
    if (!writableByTarget(this.frozen.pid, base + BATCH_TABLE_OFFSET)) {
      throw new PtraceError(
        'EINJECT',
        `mprotect in process ${this.frozen.pid}: the scratch pages stay read-only`,
      );
    }
  }

  /** Name a mapping of ours in /proc/PID/maps; kernels without CONFIG_ANON_VMA_NAME refuse (ignored). */
  private name(addr: number, len: number, name: string): void {
    if (!namesMappings()) return;
    const at = this.base + DATA_OFFSET + DATA_SIZE - NAME_AREA;
    this.mem.write(at, Buffer.from(`${name}\0`, 'latin1'));
    if (this.syscall(SYS.prctl, PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, at) === -EINVAL)
      anonNames = false;
  }

  /** Run the first or last call (site-call.ts): from the target's own code, the frame on its stack. */
  private siteCall(nr: number, a1: number, a2: number, a3 = 0, a4 = 0, a5 = 0, a6 = 0): number {
    const at = this.siteCode.patch();
    this.onStep('site-patched');
    return this.run('site-', at.entry, nr, [a1, a2, a3, a4, a5, a6], at.rsp);
  }

  /** Leave the thread at `rip` of a stub with the resume registers (a state it survives on its own). */
  private park(rip: number): void {
    this.work.copyFrom(this.resume);
    this.work.set('rip', rip);
    setRegs(this.tid, this.work.bytes);
  }

  /** SETREGS, PTRACE_SYSCALL to syscall-entry and to syscall-exit, GETREGS: the result. */
  private run(step: string, entry: number, nr: number, args: readonly number[], rsp?: number): number {
    this.frozen.assertFrozen();
    const t0 = performance.now();
    const r = this.work;
    r.copyFrom(this.resume);
    r.set('rip', entry);
    r.set('rax', nr);
    r.set('orig_rax', -1);
    if (rsp !== undefined) r.set('rsp', rsp);
    r.set('rdi', args[0] ?? 0);
    r.set('rsi', args[1] ?? 0);
    r.set('rdx', args[2] ?? 0);
    r.set('r10', args[3] ?? 0);
    r.set('r8', args[4] ?? 0);
    r.set('r9', args[5] ?? 0);
    try {
      this.inSignalPath = false;
      setRegs(this.tid, r.bytes);
      this.moved = true;
      ptrace(PTRACE.SYSCALL, this.tid, 0, 0);
      this.waitFor(this.tid, 'syscall', PTRACE.SYSCALL);
      this.onStep(`${step}entry`);
      ptrace(PTRACE.SYSCALL, this.tid, 0, 0);
      this.waitFor(this.tid, 'syscall', PTRACE.SYSCALL);
      this.frozen.regs(this.tid, r);
    } catch (e) {
      const err = ptraceErrorFrom(e, this.frozen.pid, `inject syscall ${nr} into`);
      if (err instanceof PtraceError && err.code === 'ESRCH' && this.frozen.isDead()) this.frozen.markGone();
      throw err;
    }
    this.onStep(`${step}exit`);
    this.stats.syscalls++;
    this.stats.micros += Math.round((performance.now() - t0) * 1000);
    return r.result('rax');
  }

  /** Run one system call in the target; returns rax as is (negative errno on failure). */
  syscall(nr: number, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0): number {
    if (this.cured) throw new PtraceError('ESTATE', `thread ${this.tid} is not infected any more`);
    if (this.base === 0) throw new PtraceError('ESTATE', `thread ${this.tid} is not infected yet`);
    return this.run('', this.base + STUB_OFFSET, nr, [a1, a2, a3, a4, a5, a6]);
  }

  /**
   * Run `calls` in the target with one ptrace stop per 32 calls (call-batch.ts); returns each call's rax
   * as is (negative errno on failure). The calls must not depend on each other's results (answers go to
   * memory). Runs them one by one (two stops each) when the thread has no quiet signal.
   *
   * @example
   * const [pid, ppid] = inj.batch([{ nr: SYS.getpid }, { nr: SYS.getppid }]);
   */
  batch(calls: readonly BatchCall[]): number[] {
    if (this.cured) throw new PtraceError('ESTATE', `thread ${this.tid} is not infected any more`);
    if (this.base === 0) throw new PtraceError('ESTATE', `thread ${this.tid} is not infected yet`);
    this.quiet ??= quietSignal(this.frozen.pid, this.tid, getSigmask(this.tid));
    if (this.quiet === 0) return calls.map((c) => this.syscall(c.nr, ...(c.args ?? [])));
    return this.runBatch({ tid: this.tid, resume: this.resume, stub: this.stub, quiet: this.quiet }, calls);
  }

  /**
   * @internal Run `calls` on thread `on` (this injector's, or a guest's: guest-thread.ts) from the batch
   * loop, in chunks of the table's size.
   */
  runBatch(on: BatchThread, calls: readonly BatchCall[]): number[] {
    const { tid, resume, stub, quiet, rsp } = on;
    const out: number[] = [];
    const table = this.base + BATCH_TABLE_OFFSET;
    const r = this.work;
    for (let i = 0; i < calls.length; i += BATCH_TABLE_ENTRIES) {
      this.frozen.assertFrozen();
      const t0 = performance.now();
      const chunk = calls.slice(i, i + BATCH_TABLE_ENTRIES);
      this.mem.write(table, batchTable(chunk, table));
      r.copyFrom(resume);
      r.set('rip', this.base + BATCH_OFFSET);
      r.set('orig_rax', -1);
      if (rsp !== undefined) r.set('rsp', rsp);
      r.set('r12', table);
      r.set('r13', chunk.length);
      r.set('r14', this.frozen.pid);
      r.set('r15', tid);
      r.set('rbx', quiet);
      r.set('rbp', stub);
      try {
        if (tid === this.tid) this.inSignalPath = false;
        setRegs(tid, r.bytes);
        if (tid === this.tid) this.moved = true;
        this.onStep('batch-set');
        ptrace(PTRACE.CONT, tid, 0, 0);
        this.waitFor(tid, { signal: quiet, rip: stub + AFTER_SYSCALL }, PTRACE.CONT);
        if (tid === this.tid) this.inSignalPath = true;
      } catch (e) {
        const err = ptraceErrorFrom(e, this.frozen.pid, 'run a batch of injected calls in');
        if (err instanceof PtraceError && err.code === 'ESRCH' && this.frozen.isDead())
          this.frozen.markGone();
        throw err;
      }
      this.onStep('batch-end');
      out.push(...batchResults(this.mem.read(table, chunk.length * BATCH_ENTRY_SIZE), chunk.length));
      this.stats.syscalls += chunk.length;
      this.stats.batches++;
      this.stats.micros += Math.round((performance.now() - t0) * 1000);
    }
    return out;
  }

  /**
   * Another frozen thread `tid` of the process, to run batches from this injector's scratch mapping
   * (guest-thread.ts): undefined when it cannot (no quiet signal, no free stub slot, no room on its
   * stack, a thread of a group-stop): then infect it on its own after this injector's cure.
   */
  guest(tid: number): GuestThread | undefined {
    if (this.cured) throw new PtraceError('ESTATE', `thread ${this.tid} is not infected any more`);
    if (this.base === 0) throw new PtraceError('ESTATE', `thread ${this.tid} is not infected yet`);
    const thread = this.frozen.thread(tid);
    if (tid === this.tid || !thread || thread.groupStop !== 0) return undefined;
    if (this.guests.some((g) => g.tid === tid && g.infected)) return undefined;
    const slot = guestStubOffset(this.guests.length);
    if (slot === undefined) return undefined;
    const g = GuestThread.place(this, tid, this.base + slot, this.maps);
    if (g) this.guests.push(g);
    return g;
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

  /**
   * Inject mmap of a private anonymous read-write mapping of `len` bytes, named `[anon:ckpt-injector]`
   * where the kernel can; cure() unmaps it.
   */
  mmap(len: number): number {
    const addr = this.call('mmap', SYS.mmap, 0, len, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
    this.mappings.set(addr, len);
    this.listData(addr, len);
    this.name(addr, len, SCRATCH_NAME);
    return addr;
  }

  /** Inject munmap of a mapping made by mmap() (or of any range, at the caller's risk). */
  munmap(addr: number, len = this.mappings.get(addr) ?? 0): void {
    this.unlistData(addr); // first: a ckpt killed now leaks the mapping, a later run never unmaps it
    this.call('munmap', SYS.munmap, addr, len);
    this.mappings.delete(addr);
  }

  /** Write a data mapping into the scratch mapping's table (for a later run, should we die). */
  private listData(addr: number, len: number): void {
    if (this.base === 0) return;
    const used = new Set(this.slots.values());
    let i = 0;
    while (used.has(i)) i++;
    if (i >= TABLE_SLOTS) return; // full: this one would only leak
    const slot = tableSlot(addr, len);
    this.mem.write(this.base + slot.offset + i * slot.bytes.length, slot.bytes);
    this.slots.set(addr, i);
  }

  private unlistData(addr: number): void {
    const i = this.slots.get(addr);
    if (i === undefined || this.base === 0) return;
    const slot = tableSlot(0, 0);
    this.mem.write(this.base + slot.offset + i * slot.bytes.length, slot.bytes);
    this.slots.delete(addr);
  }

  /** Write into the target's memory (scratch area, injected mappings). */
  write(addr: number, bytes: Uint8Array): void {
    this.mem.write(addr, bytes);
  }

  /** Read from the target's memory. */
  read(addr: number, len: number): Buffer {
    return this.mem.read(addr, len);
  }

  /** Wait for the next stop of `kind` on `tid` (thread-stops.ts), counted in the stats. */
  private waitFor(tid: number, kind: StopKind, resume: number): void {
    waitForStop(this.frozen, tid, kind, resume, this.stats, this.work);
  }

  /**
   * From a syscall-exit stop back to an EVENT_STOP in the kernel's signal path, where the saved registers
   * (with a pending syscall restart) mean what they meant when the thread was frozen.
   */
  private toEventStop(): void {
    ptrace(PTRACE.INTERRUPT, this.tid, 0, 0);
    ptrace(PTRACE.CONT, this.tid, 0, 0);
    this.waitFor(this.tid, 'event', PTRACE.CONT);
    this.inSignalPath = true;
    this.onStep('event-stop');
  }

  /**
   * Undo the infection: unmap our mappings and the scratch mapping, put back registers, code and stack
   * bytes. Safe to call twice; a target that is gone needs nothing. Throws the first failure after trying
   * every step.
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
      let guestsBack = true;
      for (const g of this.guests)
        step(() => {
          try {
            g.cure();
          } catch (e) {
            guestsBack = false; // it may still stand in its stub: the mapping stays
            throw e;
          }
        });
      if (!guestsBack) this.base = 0;
      if (this.base !== 0) for (const [addr, len] of [...this.mappings]) step(() => this.munmap(addr, len));
      if (this.base !== 0) {
        const base = this.base;
        step(() => {
          this.siteCall(SYS.munmap, base, SCRATCH_SIZE);
          this.base = 0;
        });
      }
      this.cured = true;
      if (this.moved) {
        // at an EVENT_STOP the saved registers restart an interrupted syscall on detach; at a
        // syscall-exit stop only the resume registers (restart applied) do
        let atEventStop = false;
        if (first === undefined)
          step(() => {
            if (!this.inSignalPath) this.toEventStop();
            atEventStop = true;
          });
        step(() => setRegs(this.tid, (atEventStop ? this.saved : this.resume).bytes));
      }
      step(() => this.siteCode?.restore());
      if (this.moved) step(() => requeueSignals(this.frozen, this.tid));
    }
    this.cured = true;
    if (held.get(this.frozen) === this) held.delete(this.frozen);
    this.frozen.release(this);
    this.mem.close();
    if (first !== undefined) throw first;
  }

  [Symbol.dispose](): void {
    this.cure();
  }
}
