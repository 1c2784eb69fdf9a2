/**
 * `struct user_regs_struct` (x86-64, 27 u64 words) as a reusable buffer with number accessors. Values are
 * exact below 2^53 (addresses, syscall numbers, small results); use `getSigned` for syscall results
 * (`-errno`) and `-ERESTART*` codes.
 *
 * @example
 * const r = new Registers(); getRegs(tid, r.bytes);
 * r.get('rip'); r.set('orig_rax', -1); setRegs(tid, r.bytes);
 */
import { REG, USER_REGS_SIZE } from '../sys/index.js';

export type RegName = keyof typeof REG;

const TWO32 = 4294967296;

export class Registers {
  /** The raw struct, passed to PTRACE_GETREGS / PTRACE_SETREGS. */
  readonly bytes = new Uint8Array(USER_REGS_SIZE);
  private readonly u32 = new Uint32Array(this.bytes.buffer);

  /** Unsigned value of a register. */
  get(r: RegName): number {
    const i = REG[r] * 2;
    return this.u32[i]! + this.u32[i + 1]! * TWO32;
  }

  /** Signed (two's complement) value of a register: -1 for 0xffff_ffff_ffff_ffff. */
  getSigned(r: RegName): number {
    const i = REG[r] * 2;
    return this.u32[i]! + (this.u32[i + 1]! | 0) * TWO32;
  }

  /** Set a register from a (possibly negative) integer; negative values are stored in two's complement. */
  set(r: RegName, v: number): void {
    const i = REG[r] * 2;
    const hi = Math.floor(v / TWO32);
    this.u32[i] = v - hi * TWO32;
    this.u32[i + 1] = hi >>> 0;
  }

  /** Copy all registers from `other`. */
  copyFrom(other: Registers): void {
    this.bytes.set(other.bytes);
  }

  /** A copy of these registers. */
  clone(): Registers {
    const r = new Registers();
    r.copyFrom(this);
    return r;
  }
}
