/**
 * The header payload, the first frame of every log (and of every segment, if logs are concatenated).
 *
 * ```
 * header := 'H' "BINLOG" version:u8 originMs:f64le startMs:f64le pid:varint thread:varint
 * ```
 * Timestamps in blocks are microseconds on the writer's monotonic clock (process.hrtime(), in µs); the wall
 * time of a record is `originMs + t / 1000`. `originMs` is `Date.now() - hrtime_ms` sampled when
 * the logger started; `startMs` is that Date.now().
 *
 * @example
 * const b = encodeHeader({ version: 1, originMs: 1e12, startMs: 1e12 + 5, pid: 42, thread: 0 });
 * decodeHeader(new Cursor(b)).pid; // 42
 */
import type { Cursor } from './cursor.js';
import { CodecError } from './errors.js';
import { writeVarint } from './varint.js';

export const FORMAT_VERSION = 1;
export const PAYLOAD_HEADER = 0x48; // 'H'
export const PAYLOAD_BLOCK = 0x42; // 'B'
const MAGIC = Buffer.from('BINLOG', 'latin1');

export interface LogHeader {
  readonly version: number;
  readonly originMs: number;
  readonly startMs: number;
  readonly pid: number;
  readonly thread: number;
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

/** Read a header payload; the cursor must stand on its 'H'. */
export function decodeHeader(c: Cursor): LogHeader {
  if (c.u8() !== PAYLOAD_HEADER || !c.bytes(MAGIC.length).equals(MAGIC)) {
    throw new CodecError('NOT_BINLOG', 'not a binlog header');
  }
  const version = c.u8();
  if (version !== FORMAT_VERSION) {
    throw new CodecError(
      'BAD_VERSION',
      `binlog format version ${version} (this decoder reads ${FORMAT_VERSION})`,
    );
  }
  const originMs = c.f64();
  const startMs = c.f64();
  const pid = c.varint();
  const thread = c.varint();
  if (!c.done()) throw new CodecError('CORRUPT', 'trailing bytes after the header');
  return { version, originMs, startMs, pid, thread };
}
