/**
 * A bounds-checked cursor over wire bytes and its writing counterpart, both little endian (CRIU sends its
 * C structs in host order, x86-64 here). Short input is a `TRUNCATED` WireError, never a RangeError; a u64
 * that does not fit a JS number exactly (> 2^53 - 1) is `BAD_HEADER`.
 *
 * @example
 * const w = new WireWriter(16); w.u32(6).u32(0).u64(1); const c = new WireCursor(w.finish());
 * c.u32('cmd') === 6; c.skip(4, 'pad'); c.u64('nr_pages') === 1; c.end('header');
 */
import { WireError } from './wire-errors.js';

export class WireCursor {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.remaining < n) {
      throw new WireError(
        'TRUNCATED',
        `${what}: need ${n} bytes at offset ${this.pos}, have ${this.remaining}`,
      );
    }
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  i32(what: string): number {
    this.need(4, what);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A u64 as a number; `BAD_HEADER` if it exceeds Number.MAX_SAFE_INTEGER. */
  u64(what: string): number {
    this.need(8, what);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    if (hi >= 0x200000) {
      const v = (BigInt(hi) << 32n) | BigInt(lo);
      throw new WireError('BAD_HEADER', `${what}: 0x${v.toString(16)} is out of range`);
    }
    return hi * 0x100000000 + lo;
  }

  skip(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }

  /** Fails with `TRAILING_BYTES` unless every byte was consumed. */
  end(what: string): void {
    if (this.remaining !== 0) {
      throw new WireError('TRAILING_BYTES', `${what}: ${this.remaining} bytes left over`);
    }
  }
}

/** Writes into one preallocated buffer of a known size. */
export class WireWriter {
  private pos = 0;
  private readonly buf: Buffer;

  constructor(size: number) {
    this.buf = Buffer.alloc(size);
  }

  u32(v: number): this {
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  i32(v: number): this {
    this.buf.writeInt32LE(v | 0, this.pos);
    this.pos += 4;
    return this;
  }

  /** A non-negative safe integer as a u64. */
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new WireError('BAD_HEADER', `u64 value ${v} out of range`);
    this.buf.writeUInt32LE(v % 0x100000000, this.pos);
    this.buf.writeUInt32LE(Math.floor(v / 0x100000000), this.pos + 4);
    this.pos += 8;
    return this;
  }

  /** The buffer; every byte must have been written. */
  finish(): Buffer {
    if (this.pos !== this.buf.length)
      throw new WireError('BAD_HEADER', `wrote ${this.pos} of ${this.buf.length}`);
    return this.buf;
  }
}
