/**
 * A bounds-checked reader over a byte range: every read checks the end first and throws
 * CodecError('SHORT_INPUT') rather than reading past it.
 *
 * @example
 * const c = new Cursor(Buffer.from([0x96, 0x01, 7]));
 * c.varint(); // 150
 * c.u8(); // 7
 * c.done(); // true
 */
import { isUtf8 } from 'node:buffer';
import { CodecError } from './errors.js';

/** Largest varint the codec accepts: 8 groups of 7 bits (2^56), enough for any safe integer. */
const MAX_VARINT_BYTES = 8;

// Buffer#toString validates and dispatches on every call; the underlying slice method is much cheaper
// for the short strings of log records.
const utf8Slice: (this: Buffer, start: number, end: number) => string =
  (Buffer.prototype as unknown as { utf8Slice?: (this: Buffer, s: number, e: number) => string }).utf8Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('utf8', start, end);
  };

const fcc = String.fromCharCode;

/**
 * An ASCII string of 1..8 bytes built in JavaScript, or null (longer, or not ASCII). Several times
 * cheaper than a native slice call for the short strings typical of log arguments.
 */
function shortAscii(b: Buffer, p: number, n: number): string | null {
  switch (n) {
    case 1:
      return b[p]! < 0x80 ? fcc(b[p]!) : null;
    case 2: {
      const x = b[p]!;
      const y = b[p + 1]!;
      return (x | y) < 0x80 ? fcc(x, y) : null;
    }
    case 3: {
      const x = b[p]!;
      const y = b[p + 1]!;
      const z = b[p + 2]!;
      return (x | y | z) < 0x80 ? fcc(x, y, z) : null;
    }
    case 4: {
      const x = b[p]!;
      const y = b[p + 1]!;
      const z = b[p + 2]!;
      const w = b[p + 3]!;
      return (x | y | z | w) < 0x80 ? fcc(x, y, z, w) : null;
    }
    case 5:
    case 6:
    case 7:
    case 8: {
      const x = b[p]!;
      const y = b[p + 1]!;
      const z = b[p + 2]!;
      const w = b[p + 3]!;
      const v = b[p + 4]!;
      if ((x | y | z | w | v) >= 0x80) return null;
      if (n === 5) return fcc(x, y, z, w, v);
      const r = shortAscii(b, p + 5, n - 5);
      return r === null ? null : fcc(x, y, z, w, v) + r;
    }
    default:
      return null;
  }
}

export class Cursor {
  pos: number;
  /**
   * The repeated strings of the writer being read (value.ts, V_STRDEF/V_STRREF), by id: set by the
   * reader for the stream a block belongs to; null where no reference can be resolved.
   */
  strings: Map<number, string> | null = null;
  /** Refuse strings that are not valid UTF-8 (a reader salvaging a damaged frame sets it). */
  strict = false;
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  /** True when every byte up to `end` was read. */
  done(): boolean {
    return this.pos >= this.end;
  }

  /** Bytes left to read. */
  remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) {
      throw new CodecError(
        'SHORT_INPUT',
        `need ${n} byte(s) at offset ${this.pos}, input ends at ${this.end}`,
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** An unsigned LEB128 varint (at most 8 bytes, so the value stays a safe integer). */
  varint(): number {
    let b = this.u8();
    if (b < 0x80) return b;
    let v = b & 0x7f;
    let mul = 0x80;
    for (let i = 1; ; i++) {
      if (i >= MAX_VARINT_BYTES)
        throw new CodecError('CORRUPT', `varint longer than ${MAX_VARINT_BYTES} bytes`);
      b = this.u8();
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 0x80;
    }
  }

  /** A zigzag-encoded signed varint (int32 range). */
  zigzag(): number {
    const z = this.varint();
    if (z > 0xffffffff) throw new CodecError('CORRUPT', 'zigzag varint out of int32 range');
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  /** `n` raw bytes (a view, not a copy). */
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** A varint byte length followed by that many bytes of UTF-8. */
  str(): string {
    const n = this.varint();
    this.need(n);
    if (this.strict && !isUtf8(this.buf.subarray(this.pos, this.pos + n)))
      throw new CodecError('CORRUPT', `invalid UTF-8 at offset ${this.pos}`);
    const s =
      (n <= 8 ? shortAscii(this.buf, this.pos, n) : null) ?? utf8Slice.call(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}
