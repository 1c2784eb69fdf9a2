/**
 * Payload heads: the log header (one per writer start) and the head of every block.
 *
 * ```
 * header := 'H' "BINLOG" version:u8 originMs:f64le startMs:f64le pid:varint thread:varint
 * block1 := 'B' base:varint record*                                          ; version 1 (still read)
 * block2 := 'b' stream:u32le originMs:f64le pid:u32le thread:u32le dropped:u32le lost:u32le
 *           base:varint record*                                              ; version 2
 * ```
 * Timestamps in blocks are microseconds on the writer's monotonic clock (process.hrtime(), in µs); the wall
 * time of a record is `originMs + t / 1000`. `originMs` is `Date.now() - hrtime_ms` sampled when the
 * logger started; `startMs` is that Date.now().
 *
 * Version 2 makes every frame stand on its own: its block head carries the clock anchor (`originMs`), the
 * writer (`stream`, a random id per logger, with its pid and thread) and that writer's running totals of
 * records dropped under overload and lost to write errors (each saturating at 2^32-1). A damaged header
 * therefore re-dates nothing, frames of several writers may interleave in one file (O_APPEND), and a file
 * cut anywhere at a frame boundary (rotation, copytruncate) decodes from its first intact frame. In
 * version 1 the header carried the anchor and a block relied on it (`block1`).
 *
 * @example
 * const b = encodeHeader({ version: 2, originMs: 1e12, startMs: 1e12 + 5, pid: 42, thread: 0 });
 * decodeHeader(new Cursor(b)).pid; // 42
 */
import type { Cursor } from './cursor.js';
import { CodecError } from './errors.js';
import { writeVarint } from './varint.js';

export const FORMAT_VERSION = 2;
export const PAYLOAD_HEADER = 0x48; // 'H'
/** A version-1 block (decoded, no longer written). */
export const PAYLOAD_BLOCK = 0x42; // 'B'
/** A version-2 block: self-describing head (blockHead). */
export const PAYLOAD_BLOCK2 = 0x62; // 'b'
/** Bytes of a version-2 block head before its base varint. */
export const BLOCK2_FIXED = 1 + 4 + 8 + 4 + 4 + 4 + 4;
/** Offsets of the counters in a version-2 block payload (filled in when the block is sealed). */
export const BLOCK2_DROPPED = 1 + 4 + 8 + 4 + 4;
export const BLOCK2_LOST = BLOCK2_DROPPED + 4;
const MAGIC = Buffer.from('BINLOG', 'latin1');

export interface LogHeader {
  readonly version: number;
  readonly originMs: number;
  readonly startMs: number;
  readonly pid: number;
  readonly thread: number;
}

/** The writer identity a version-2 block head repeats. */
export interface BlockOrigin {
  readonly stream: number;
  readonly originMs: number;
  readonly pid: number;
  readonly thread: number;
}

/** A decoded version-2 block head (the cursor then stands on the first record). */
export interface BlockHead extends BlockOrigin {
  readonly dropped: number;
  readonly lost: number;
  readonly base: number;
}

/** The header payload (without its frame). */
export function encodeHeader(h: LogHeader): Buffer {
  const b = Buffer.alloc(1 + MAGIC.length + 1 + 16 + 16);
  b[0] = PAYLOAD_HEADER;
  MAGIC.copy(b, 1);
  let p = 1 + MAGIC.length;
  b[p++] = h.version;
  b.writeDoubleLE(h.originMs, p);
  b.writeDoubleLE(h.startMs, p + 8);
  p = writeVarint(b, p + 16, h.pid);
  p = writeVarint(b, p, h.thread);
  return b.subarray(0, p);
}

/** Read a header payload; the cursor must stand on its 'H'. Versions 1 and 2 are read. */
export function decodeHeader(c: Cursor): LogHeader {
  if (c.u8() !== PAYLOAD_HEADER || !c.bytes(MAGIC.length).equals(MAGIC)) {
    throw new CodecError('NOT_BINLOG', 'not a binlog header');
  }
  const version = c.u8();
  if (version !== 1 && version !== FORMAT_VERSION) {
    throw new CodecError(
      'BAD_VERSION',
      `binlog format version ${version} (this decoder reads 1 and ${FORMAT_VERSION})`,
    );
  }
  const originMs = c.f64();
  const startMs = c.f64();
  const pid = c.varint();
  const thread = c.varint();
  if (!c.done()) throw new CodecError('CORRUPT', 'trailing bytes after the header');
  return { version, originMs, startMs, pid, thread };
}

/**
 * Write a version-2 block head at `p` (counters zero: sealBlockCounters fills them); returns the offset of
 * the first record.
 */
export function writeBlockHead(buf: Buffer, p: number, o: BlockOrigin, base: number): number {
  buf[p] = PAYLOAD_BLOCK2;
  buf.writeUInt32LE(o.stream, p + 1);
  buf.writeDoubleLE(o.originMs, p + 5);
  buf.writeUInt32LE(o.pid >>> 0, p + 13);
  buf.writeUInt32LE(o.thread >>> 0, p + 17);
  buf.writeUInt32LE(0, p + BLOCK2_DROPPED);
  buf.writeUInt32LE(0, p + BLOCK2_LOST);
  return writeVarint(buf, p + BLOCK2_FIXED, base);
}

/** Fill in the running totals of the block head at payload offset `p`. */
export function sealBlockCounters(buf: Buffer, p: number, dropped: number, lost: number): void {
  buf.writeUInt32LE(Math.min(dropped, 0xffffffff), p + BLOCK2_DROPPED);
  buf.writeUInt32LE(Math.min(lost, 0xffffffff), p + BLOCK2_LOST);
}

/** Read a version-2 block head; the cursor must stand on its 'b'. */
export function readBlockHead(c: Cursor): BlockHead {
  c.u8();
  const stream = c.u32();
  const originMs = c.f64();
  const pid = c.u32();
  const thread = c.u32();
  const dropped = c.u32();
  const lost = c.u32();
  const base = c.varint();
  if (!Number.isFinite(originMs))
    throw new CodecError('CORRUPT', 'block head with a non-finite clock anchor');
  return { stream, originMs, pid, thread, dropped, lost, base };
}
