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
import { SYS, setRegs, syscall } from '../sys/index.js';
import type { BatchCall } from './call-batch.js';
import { PtraceError } from './errors.js';
import type { FrozenProcess } from './frozen-process.js';
import type { Registers } from './registers.js';

/** What a guest uses of its injector. */
export interface GuestHost {
  readonly frozen: FrozenProcess;
  write(addr: number, bytes: Uint8Array): void;
  runBatch(
    tid: number,
    resume: Registers,
    stub: number,
    quiet: number,
    calls: readonly BatchCall[],
    rsp?: number,
  ): number[];
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

  /** True until cure(). */
  get infected(): boolean {
    return !this.cured;
  }

  /** Run `calls` in this thread with one stop per 32 (as Injector.batch); rax of each, as is. */
  batch(calls: readonly BatchCall[]): number[] {
    if (this.cured) throw new PtraceError('ESTATE', `thread ${this.tid} is not infected any more`);
    this.moved = true;
    return this.host.runBatch(this.tid, this.resume, this.stub, this.quiet, calls, this.frame);
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
    const thread = this.host.frozen.thread(this.tid);
    if (this.moved && thread)
      for (const sig of thread.signals.splice(0)) syscall(SYS.tgkill, this.host.frozen.pid, this.tid, sig);
  }
}
