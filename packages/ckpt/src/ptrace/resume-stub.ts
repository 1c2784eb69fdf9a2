/**
 * The code an infected thread runs around an injected system call, built so that the thread survives on
 * its own when the tracer vanishes (SIGKILL of ckpt: the kernel detaches the tracee and it runs on from
 * wherever it is stopped).
 *
 * ```
 * stub:  syscall                  ; the injected call (rax = nr, args in rdi rsi rdx r10 r8 r9)
 *        mov  rsp, FRAME          ; from here on: restore the thread's own state
 *        pop  r15 ... pop rdi     ; 15 general registers, in user_regs_struct order
 *        popfq                    ; rflags
 *        pop  rsp                 ; the thread's own stack pointer, last
 *        jmp  [rip + 0]           ; to the thread's own rip ...
 *        .quad RESUME_RIP         ; ... kept in the stub itself
 * FRAME: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi rflags rsp   (17 words)
 * ```
 * With the tracer present the thread never gets past the `syscall`: it is resumed with PTRACE_SYSCALL and
 * stops at syscall-exit, where the tracer reads rax and sets up the next call (or the thread's own
 * registers). Without the tracer the thread runs on into the restore sequence and resumes exactly where
 * it was frozen. No `int3` anywhere: no stop of ours can turn into a SIGTRAP.
 *
 * The state restored is `resumeRegisters(saved)`: the saved registers with the kernel's syscall restart
 * already applied (a thread frozen inside `read()` has rax = -ERESTARTSYS; the kernel would restart the
 * call on return to user mode: rip -= 2, rax = orig_rax). The stub touches neither the FPU/vector state,
 * nor the signal mask, nor fs/gs base, so they need no saving. The frame lives where a signal arriving
 * during the restore sequence may push its own frame below rsp: below the red zone of the thread's stack,
 * or in the writable half of the scratch mapping.
 *
 * @example
 * const resume = resumeRegisters(saved);
 * mem.write(frameAddr, restoreFrame(resume));
 * mem.write(stubAddr, resumeStub(frameAddr, resume.address('rip')));
 */
import { SYS } from '../sys/index.js';
import type { Registers } from './registers.js';

/** Bytes of the restore frame (17 words). */
export const FRAME_SIZE = 17 * 8;

const POPS = [
  0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b, 0x41, 0x5b, 0x41, 0x5a, 0x41, 0x59, 0x41, 0x58,
  0x58, 0x59, 0x5a, 0x5e, 0x5f,
]; // r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi

/** Bytes of the stub (code + its rip slot). */
export const STUB_SIZE = 2 + 10 + POPS.length + 1 + 1 + 6 + 8;

/** Offset of the first instruction after `syscall`: where a thread stands at syscall-exit. */
export const AFTER_SYSCALL = 2;

/** The stub, restoring from the frame at `frame` and resuming at `rip`. Position-independent. */
export function resumeStub(frame: number, rip: number): Uint8Array {
  const b = Buffer.alloc(STUB_SIZE);
  let o = 0;
  b[o++] = 0x0f; // syscall
  b[o++] = 0x05;
  b[o++] = 0x48; // mov rsp, imm64
  b[o++] = 0xbc;
  b.writeBigUInt64LE(BigInt(frame), o);
  o += 8;
  for (const x of POPS) b[o++] = x;
  b[o++] = 0x9d; // popfq
  b[o++] = 0x5c; // pop rsp
  b[o++] = 0xff; // jmp [rip + 0]
  b[o++] = 0x25;
  b.writeInt32LE(0, o);
  o += 4;
  b.writeBigUInt64LE(BigInt(rip), o);
  return b;
}

/** The 17-word frame the stub pops: r15..rdi as user_regs_struct, then rflags and rsp. */
export function restoreFrame(r: Registers): Uint8Array {
  const words = new BigUint64Array(17);
  words.set(new BigUint64Array(r.bytes.buffer, r.bytes.byteOffset, 15));
  words[15] = r.get('eflags');
  words[16] = r.get('rsp');
  return new Uint8Array(words.buffer);
}

const ERESTARTSYS = -512n;
const ERESTARTNOINTR = -513n;
const ERESTARTNOHAND = -514n;
const ERESTART_RESTARTBLOCK = -516n;

/**
 * The registers a thread frozen with `saved` resumes with once the kernel has applied its syscall restart
 * (no signal handler runs: the thread was only interrupted by us): rip -= 2 and rax = orig_rax (or
 * restart_syscall) when it was stopped inside an interrupted system call; orig_rax = -1 in every case.
 */
export function resumeRegisters(saved: Registers): Registers {
  const r = saved.clone();
  const rax = saved.getSigned('rax');
  if (saved.getSigned('orig_rax') >= 0n) {
    if (rax === ERESTARTSYS || rax === ERESTARTNOINTR || rax === ERESTARTNOHAND) {
      r.set('rax', saved.get('orig_rax'));
      r.set('rip', saved.get('rip') - 2n);
    } else if (rax === ERESTART_RESTARTBLOCK) {
      r.set('rax', SYS.restart_syscall);
      r.set('rip', saved.get('rip') - 2n);
    }
  }
  r.set('orig_rax', -1);
  return r;
}
