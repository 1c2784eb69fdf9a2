/**
 * The first and last call of an infection (the scratch mapping's mmap and munmap), run from the target's
 * own code since nothing of ours is mapped yet (or any more):
 *
 * ```
 * with gadgets:    rip = a `syscall; ret` of its libraries, rsp = an rt_sigreturn frame written below
 *                  its red zone whose return address is the signal restorer: after the call, `ret` ->
 *                  rt_sigreturn -> the thread's own registers (syscall restart applied). No code byte
 *                  changes.
 * without:         the resume stub written at the site (resume-stub.ts), its small frame below the red
 *                  zone (also when the stack has no room for a signal frame)
 * ```
 * What it overwrites (stack bytes, site code) is saved at construction and put back by restore().
 *
 * The last call can end in one stop instead of three (patchLast, with gadgets and room for two frames):
 * ```
 * rsp = F1: munmap; ret -> rt_sigreturn(F1): rip = `syscall; ret`, rax = tgkill(self, quiet signal),
 *           rsp = F2; syscall -> the quiet signal's signal-delivery-stop (call-batch.ts) at `ret`, a stop
 *           in the signal path where the tracer sets the saved registers (no interrupt, no syscall stops);
 *           without a tracer the signal is dropped: ret -> rt_sigreturn(F2): its own registers
 * ```
 *
 * @example
 * const sc = new SiteCall(mem, tid, site, resume, maps, findGadgets(maps));
 * const { entry, rsp } = sc.patch();   // run the call there (rsp undefined: the thread's own)
 * sc.restore();
 */
import type { Vma } from '../proc/index.js';
import { getSigmask, getXstate, SYS } from '../sys/index.js';
import type { Gadgets } from './gadgets.js';
import type { Registers } from './registers.js';
import type { RemoteMemory } from './remote-memory.js';
import { AFTER_SYSCALL, restoreFrame, resumeStub, STUB_SIZE } from './resume-stub.js';
import { sigFrame, sigFrameSize } from './sigframe.js';

/** Bytes saved below the red zone: the site call's restore frame (FRAME_SIZE) goes there. */
const STACK_AREA = 256;
const RED_ZONE = 128;
/** Stack kept free below the last call's frames for a signal's frame (the largest XSAVE included). */
const SIGNAL_ROOM = 8192;

export class SiteCall {
  /** The code at the site (patch path only: no gadgets in the target). */
  private savedCode: Buffer = Buffer.alloc(0);
  private savedStack: Buffer = Buffer.alloc(0);
  /** Below the red zone: the restore frame of the first and last calls. */
  private stackArea = 0;
  private sigFrameBytes: Uint8Array | undefined;
  /** `syscall; ret` and the signal restorer in the target (undefined: the patch path). */
  private gadgets: Gadgets | undefined;
  /** The stack area (and, on the patch path, the site code) hold our frame (and stub). */
  private patched = false;
  /** Where the last call's first frame goes (patchLast), below the other; 0: no room (or no gadgets). */
  private chainAt = 0;
  /** Where the saved stack bytes start (0: at stackArea). */
  private savedFrom = 0;
  private xstate: Uint8Array = new Uint8Array(0);
  private sigmask = 0n;

  /**
   * Choose how the calls run and save what they overwrite: with the gadgets, an rt_sigreturn frame
   * below the red zone; without, the stub at the site and its small frame below the red zone. Falls
   * back to the site when the stack has no room for the frame.
   */
  constructor(
    private readonly mem: RemoteMemory,
    tid: number,
    private readonly site: number,
    private readonly resume: Registers,
    maps: readonly Vma[],
    gadgets: Gadgets | undefined,
  ) {
    const sp = resume.address('rsp');
    if (gadgets) {
      const xstate = getXstate(tid);
      const at = sp - RED_ZONE - sigFrameSize(xstate.length);
      const frameAt = at - (at % 64);
      const room = (a: number) => maps.some((v) => v.write && v.start <= a && sp <= v.end);
      if (room(frameAt)) {
        this.gadgets = gadgets;
        this.stackArea = frameAt;
        this.xstate = xstate;
        this.sigmask = getSigmask(tid);
        this.sigFrameBytes = sigFrame(resume, xstate, this.sigmask, gadgets.sigreturn, frameAt);
        const at2 = frameAt - sigFrameSize(xstate.length);
        const chainAt = at2 - (at2 % 64);
        // room for a second frame below the first (a signal's frame below both): the last call in one stop
        if (room(chainAt - SIGNAL_ROOM)) this.chainAt = chainAt;
        const low = this.chainAt || frameAt;
        this.savedFrom = low;
        this.savedStack = mem.read(low, sp - RED_ZONE - low);
        return;
      }
    }
    const at = sp - RED_ZONE - STACK_AREA;
    this.stackArea = at - (at % 16);
    this.savedCode = mem.read(site, STUB_SIZE);
    this.savedStack = mem.read(this.stackArea, STACK_AREA);
  }

  /** Write the frame (and stub); returns where the call runs (`rsp` undefined: the thread's own). */
  patch(): { entry: number; rsp?: number } {
    if (this.gadgets && this.sigFrameBytes) {
      this.mem.write(this.stackArea, this.sigFrameBytes);
      this.patched = true;
      return { entry: this.gadgets.syscallRet, rsp: this.stackArea };
    }
    this.mem.write(this.stackArea, restoreFrame(this.resume));
    this.mem.write(this.site, resumeStub(this.stackArea, this.resume.address('rip')));
    this.patched = true;
    return { entry: this.site };
  }

  /**
   * Write the last call's two frames (see the module comment): the call runs at `entry` with `rsp`, and
   * ends with signal `quiet` sent to thread `tid` of `pid`, stopping at `endRip`. Undefined when the
   * thread has no room for them (or no gadgets): patch() then, and its three stops.
   */
  patchLast(
    pid: number,
    tid: number,
    quiet: number,
  ): { entry: number; rsp: number; endRip: number } | undefined {
    if (!this.gadgets || !this.sigFrameBytes || this.chainAt === 0 || quiet === 0) return undefined;
    const end = this.resume.clone();
    end.set('rip', this.gadgets.syscallRet);
    end.set('rax', SYS.tgkill);
    end.set('rdi', pid);
    end.set('rsi', tid);
    end.set('rdx', quiet);
    end.set('rsp', this.stackArea);
    const first = sigFrame(end, this.xstate, this.sigmask, this.gadgets.sigreturn, this.chainAt);
    const both = Buffer.alloc(this.stackArea - this.chainAt + this.sigFrameBytes.length);
    both.set(first, 0);
    both.set(this.sigFrameBytes, this.stackArea - this.chainAt);
    this.mem.write(this.chainAt, both);
    this.patched = true;
    return {
      entry: this.gadgets.syscallRet,
      rsp: this.chainAt,
      endRip: this.gadgets.syscallRet + AFTER_SYSCALL,
    };
  }

  /** Put the saved stack bytes (and site code) back. Safe to call twice. */
  restore(): void {
    if (!this.patched) return;
    if (this.savedCode.length > 0) this.mem.write(this.site, this.savedCode);
    this.mem.write(this.savedFrom || this.stackArea, this.savedStack);
    this.patched = false;
  }
}
