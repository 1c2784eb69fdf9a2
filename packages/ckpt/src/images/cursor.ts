/**
 * A bounds-checked read cursor over image bytes, and its writing counterpart. Every image codec reads
 * through `ImageCursor` (so short input is always a `TRUNCATED` ImageError, never a RangeError) and writes
 * through `ImageWriter`. Words are 32-bit little endian, as CRIU writes them on x86-64.
 *
 * @example
 * const w = new ImageWriter(); w.u32(0x58313116); w.bytes(Buffer.from([1]));
 * const c = new ImageCursor(w.finish()); c.u32('magic') === 0x58313116; c.bytes(1, 'entry');
 */
import { ImageError } from './errors.js';

/** Reads words and byte strings from `bytes`; reading past the end is a `TRUNCATED` ImageError. */
export class ImageCursor {
  private pos = 0;
  private readonly buf: Buffer;

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  atEnd(): boolean {
    return this.pos === this.buf.length;
  }

  /** Read a u32 (little endian); `what` names it in the error. */
  u32(what: string): number {
    if (this.remaining < 4) {
      throw new ImageError(
        'TRUNCATED',
        `${what}: need 4 bytes at offset ${this.pos}, have ${this.remaining}`,
      );
    }
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Take `n` bytes as a view (no copy). */
  bytes(n: number, what: string): Buffer {
    if (n > this.remaining) {
      throw new ImageError(
        'TRUNCATED',
        `${what}: need ${n} bytes at offset ${this.pos}, have ${this.remaining}`,
      );
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** Accumulates words and byte strings; `finish()` returns one Buffer. */
export class ImageWriter {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  u32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v >>> 0, 0);
    this.parts.push(b);
    this.size += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}
