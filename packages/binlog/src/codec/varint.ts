/**
 * Writers for the codec's integers: unsigned LEB128 varints (any safe integer) and zigzag int32. The
 * caller guarantees room (at most 8 bytes for a varint, 5 for a zigzag int32); they return the new offset.
 * Their readers are Cursor.varint() and Cursor.zigzag().
 *
 * @example
 * const b = Buffer.alloc(8);
 * writeVarint(b, 0, 300); // 2, b = [0xac, 0x02, ...]
 */

/** Write `v` (a non-negative safe integer) as an unsigned varint at `p`. */
export function writeVarint(buf: Uint8Array, p: number, v: number): number {
  // kept tiny so that V8 inlines it into the log path; longer values take a separate call
  if (v < 0x80) {
    buf[p] = v;
    return p + 1;
  }
  return writeLongVarint(buf, p, v);
}

function writeLongVarint(buf: Uint8Array, p: number, v: number): number {
  if (v < 0x80000000) {
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p] = v;
    return p + 1;
  }
  while (v > 0x7f) {
    buf[p++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[p] = v;
  return p + 1;
}

/** Write an int32 as a zigzag varint. */
export function writeZigzag(buf: Uint8Array, p: number, v: number): number {
  let z = ((v << 1) ^ (v >> 31)) >>> 0;
  while (z > 0x7f) {
    buf[p++] = (z & 0x7f) | 0x80;
    z >>>= 7;
  }
  buf[p] = z;
  return p + 1;
}
