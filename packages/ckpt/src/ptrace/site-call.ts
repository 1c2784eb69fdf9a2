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
 * @example
 * const sc = new SiteCall(mem, tid, site, resume, maps, findGadgets(maps));
 * const { entry, rsp } = sc.patch();   // run the call there (rsp undefined: the thread's own)
 * sc.restore();
 */
import type { Vma } from '../proc/index.js';
import { getSigmask, getXstate } from '../sys/index.js';
import type { Gadgets } from './gadgets.js';
import type { Registers } from './registers.js';
import type { RemoteMemory } from './remote-memory.js';
import { restoreFrame, resumeStub, STUB_SIZE } from './resume-stub.js';
import { sigFrame, sigFrameSize } from './sigframe.js';

/** Bytes saved below the red zone: the site call's restore frame (FRAME_SIZE) goes there. */
const STACK_AREA = 256;
const RED_ZONE = 128;

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
      if (maps.some((v) => v.write && v.start <= frameAt && sp <= v.end)) {
        this.gadgets = gadgets;
        this.stackArea = frameAt;
        this.sigFrameBytes = sigFrame(resume, xstate, getSigmask(tid), gadgets.sigreturn, frameAt);
        this.savedStack = mem.read(frameAt, sp - RED_ZONE - frameAt);
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

  /** Put the saved stack bytes (and site code) back. Safe to call twice. */
  restore(): void {
    if (!this.patched) return;
    if (this.savedCode.length > 0) this.mem.write(this.site, this.savedCode);
    this.mem.write(this.stackArea, this.savedStack);
    this.patched = false;
  }
}
