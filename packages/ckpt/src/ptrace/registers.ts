/**
 * `struct user_regs_struct` (x86-64, 27 u64 words) as a reusable buffer. Values are exact: `get` returns
 * the unsigned 64-bit word as a bigint, `getSigned` its two's-complement value (`-errno`, `-ERESTART*`).
 * `set` takes a bigint or a safe integer (negative numbers are stored in two's complement).
 * Cheap number accessors for the values that always fit: `address` for rip/rsp/fs_base and other user
 * addresses (< 2^47 on x86-64; throws RangeError above 2^53), `result` for a syscall result in rax
 * (an address, a count or `-errno`, exact within ±2^53).
 *
 * @example
 * const r = new Registers(); getRegs(tid, r.bytes);
 * r.address('rip'); r.get('r12') === 0xffff_ffff_ffff_fffen; r.set('orig_rax', -1); setRegs(tid, r.bytes);
 */
import { REG, USER_REGS_SIZE } from '../sys/index.js';

export type RegName = keyof typeof REG;

const TWO32 = 4294967296;
/** Above this the high half of a word makes the value exceed 2^53. */
const SAFE_HIGH = 0x200000;

export class Registers {
  /** The raw struct, passed to PTRACE_GETREGS / PTRACE_SETREGS. */
  readonly bytes = new Uint8Array(USER_REGS_SIZE);
  private readonly u32 = new Uint32Array(this.bytes.buffer);
  private readonly u64 = new BigUint64Array(this.bytes.buffer);

  /** Unsigned value of a register, exact. */
  get(r: RegName): bigint {
    return this.u64[REG[r]]!;
  }

  /** Signed (two's complement) value of a register, exact: -1n for 0xffff_ffff_ffff_ffff. */
  getSigned(r: RegName): bigint {
    return BigInt.asIntN(64, this.u64[REG[r]]!);
  }

  /** A register holding a user address (rip, rsp, ...) as a number. Throws RangeError above 2^53. */
  address(r: RegName): number {
    const i = REG[r] * 2;
    const hi = this.u32[i + 1]!;
    if (hi >= SAFE_HIGH) throw new RangeError(`${r} = 0x${this.get(r).toString(16)} is not a user address`);
    return this.u32[i]! + hi * TWO32;
  }

  /**
   * A syscall result (signed) as a number: exact for addresses, counts and -errno. Throws RangeError
   * outside ±2^53 (use getSigned).
   */
  result(r: RegName = 'rax'): number {
    const v = this.getSigned(r);
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new RangeError(`${r} = ${v} does not fit a number`);
    return n;
  }

  /** Set a register from a bigint or a safe integer; negative values are stored in two's complement. */
  set(r: RegName, v: bigint | number): void {
    if (typeof v === 'bigint') {
      this.u64[REG[r]] = BigInt.asUintN(64, v);
      return;
    }
    if (!Number.isSafeInteger(v)) throw new RangeError(`${r}: ${v} is not a safe integer (use a bigint)`);
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
