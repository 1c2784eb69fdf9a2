/**
 * Another thread of an infected process, running batches of calls (call-batch.ts) from the injector's
 * own scratch mapping: no mapping of its own, so no site call, mmap, mprotect, prctl, munmap or
 * interrupt per thread; two ptrace operations that stop it: the batch's end, nothing at cure.
 *
 * ```
 * guest(tid):  its resume stub into a slot of the code page (guestStubOffset), its restore frame on
 *              its own stack below the red zone (the 136 bytes there saved)        [thread untouched]
 * batch:       SETREGS rip = batch loop, rsp = the frame; CONT; its quiet signal's stop at stub + 2
 * cure:        SETREGS its saved registers (a stop in the signal path: the kernel applies its syscall
 *              restart at detach, as from the freeze); the stack bytes back; remembered signals re-sent
 * ```
 * SIGKILL of ckpt at any instant: before the batch's SETREGS the thread is untouched; from it to the
 * cure's SETREGS it runs the rest of the table and its restore sequence (the frame on its own stack,
 * rsp at the frame so that a signal's frame goes below it) and resumes where it was frozen; after it, it
 * stands at its own registers. What stays: the 136 bytes below its red zone (free stack by the ABI).
 * The injector cures its guests before it unmaps the scratch mapping, and keeps the mapping when a guest
 * could not be cured.
 *
 * @example
 * using inj = Injector.infect(frozen);
 * const g = inj.guest(tid);                    // undefined: infect that thread on its own instead
 * const [tidAddr] = g!.batch([{ nr: SYS.prctl, args: [40, inj.scratch.address] }]);
 */
import type { Vma } from '../proc/index.js';
import { getSigmask, setRegs } from '../sys/index.js';
import { type BatchCall, type BatchThread, quietSignal } from './call-batch.js';
import { PtraceError } from './errors.js';
import type { FrozenProcess } from './frozen-process.js';
import type { Registers } from './registers.js';
import { FRAME_SIZE, restoreFrame, resumeRegisters, resumeStub } from './resume-stub.js';
import { requeueSignals } from './thread-stops.js';

/** Stack a guest thread must have below its restore frame: a signal frame with the largest xsave. */
const SIGNAL_ROOM = 8192;
const RED_ZONE = 128;

/** What a guest uses of its injector. */
export interface GuestHost {
  readonly frozen: FrozenProcess;
  read(addr: number, len: number): Buffer;
  write(addr: number, bytes: Uint8Array): void;
  runBatch(on: BatchThread, calls: readonly BatchCall[]): number[];
}

export class GuestThread {
  private moved = false;
  private cured = false;

  /** @internal Made by Injector.guest(), which has written the stub and the frame. */
  constructor(
    private readonly host: GuestHost,
    readonly tid: number,
    private readonly saved: Registers,
    private readonly resume: Registers,
    /** Its resume stub in the code page. */
    readonly stub: number,
    /** Its restore frame on its stack, and the bytes that were there. */
    private readonly frame: number,
    private readonly savedStack: Buffer,
    private readonly quiet: number,
  ) {}

  /**
   * @internal Make thread `tid` a guest (Injector.guest): its stub at `stub` (a free slot of the code
   * page), its frame below its red zone. Undefined when it cannot: no room on its stack (in `maps`), no
   * quiet signal, or its stack not where the maps said; the thread is untouched then.
   */
  static place(host: GuestHost, tid: number, stub: number, maps: readonly Vma[]): GuestThread | undefined {
    const saved = host.frozen.regs(tid);
    const resume = resumeRegisters(saved);
    const sp = resume.address('rsp');
    const at = sp - RED_ZONE - FRAME_SIZE;
    const frame = at - (at % 16);
    // room below the frame for a signal's frame (xsave included), in the thread's own stack mapping
    if (!maps.some((v) => v.write && v.start + SIGNAL_ROOM <= frame && sp <= v.end)) return undefined;
    const quiet = quietSignal(host.frozen.pid, tid, getSigmask(tid));
    if (quiet === 0) return undefined;
    let savedStack: Buffer;
    try {
      savedStack = host.read(frame, FRAME_SIZE);
      host.write(frame, restoreFrame(resume));
    } catch {
      return undefined; // not its stack after all (maps read before freezing): the thread is untouched
    }
    host.write(stub, resumeStub(frame, resume.address('rip')));
    return new GuestThread(host, tid, saved, resume, stub, frame, savedStack, quiet);
  }

  /** True until cure(). */
  get infected(): boolean {
    return !this.cured;
  }

  /** Run `calls` in this thread with one stop per 32 (as Injector.batch); rax of each, as is. */
  batch(calls: readonly BatchCall[]): number[] {
    if (this.cured) throw new PtraceError('ESTATE', `thread ${this.tid} is not infected any more`);
    this.moved = true;
    const { tid, resume, stub, quiet, frame: rsp } = this;
    return this.host.runBatch({ tid, resume, stub, quiet, rsp }, calls);
  }

  /**
   * Put the thread back: its saved registers, its stack bytes, remembered signals queued again. Safe to
   * call twice; throws when the thread could not be put back (the injector then keeps its mapping).
   */
  cure(): void {
    if (this.cured) return;
    this.cured = true;
    if (this.host.frozen.state !== 'frozen') return;
    if (this.moved) setRegs(this.tid, this.saved.bytes);
    this.host.write(this.frame, this.savedStack);
    if (this.moved) requeueSignals(this.host.frozen, this.tid);
  }
}
