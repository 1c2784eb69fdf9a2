/**
 * Per-format record writers. For a format with n <= MAX_FAST_ARGS specifiers, buildWriter() generates
 * (with `new Function`, once per format) a function that writes one whole packed event of that format
 * (codec/record.ts): the event tag, the id as constant bytes, the time delta, the context id, then each
 * argument without a type tag, with the exact stores its specifier needs: a zigzag varint loop for
 * `%d %i %u %x`, a DataView store for `%f`, a charCodeAt loop for short ASCII `%s` (writeString(), a
 * shared helper). The room for the whole record is checked once, before the first store.
 * The string loop lives in the helper so that a three-argument writer stays under V8's bytecode limit
 * for inlining (460 bytes; it was 485 with the loop written out, 366 now): TurboFan can then inline the
 * writer into the level method.
 *
 * It returns false, having written nothing that counts, when an argument does not have its specifier's
 * kind (a `%d` given NaN, a bigint or a string...) or the record does not fit: the caller then writes a
 * tagged event on its general path. This is what a pre-compiled call site costs at run time, and a
 * mode-1 call once its format is interned.
 *
 * @example
 * const w = buildWriter(7, ['d', 's']);
 * w(sink, 3, 0, 2, 5, 'hi'); // true: [0x23, 7, 2, 0x0a, 2, 'h', 'i'] at sink.pos
 */
import { writePackedString, writeValue, writeVarint } from '../codec/index.js';
import type { ArgKind } from '../format/index.js';

/** Arguments a generated writer (and a log method's fast path) takes as named parameters. */
export const MAX_FAST_ARGS = 6;

/** The buffer state a writer appends to (Core). */
export interface RecordSink {
  buf: Buffer;
  /** A DataView over exactly `buf`. */
  view: DataView;
  pos: number;
  readonly end: number;
}

/**
 * Appends one packed event at `sink.pos` (level index `lv`, context id `cx` or 0, `dt` = µs since the
 * previous record, >= 0) and advances `sink.pos`; false when the caller must write it on its general path.
 * The time goes in as a delta (a small integer) rather than the absolute µs: a number above 2^31 would be
 * boxed into a new heap number at every call to this (not inlined) function.
 */
export type RecordWriter = (
  sink: RecordSink,
  lv: number,
  cx: number,
  dt: number,
  a?: unknown,
  b?: unknown,
  c?: unknown,
  d?: unknown,
  e?: unknown,
  f?: unknown,
) => boolean;

const NAMES = ['a', 'b', 'c', 'd', 'e', 'f'];
/** EV_PACKED and EV_CTX of codec/record.ts. */
const PACKED = 0x20;
const CTX = 0x08;

const never: RecordWriter = () => false;

/**
 * A `%s` argument: a short ASCII string byte by byte (cheaper than a UTF-8 encoder call for a few
 * characters), anything else through the codec. The caller has checked room for `s.length + 1` bytes.
 */
function writeString(buf: Buffer, p: number, end: number, s: string): number {
  const n = s.length;
  if (n >= 0x80) return writePackedString(buf, p, end, s);
  let q = p + 1;
  for (let i = 0; i < n; i++) {
    const ch = s.charCodeAt(i);
    if (ch >= 0x80) return writePackedString(buf, p, end, s);
    buf[q++] = ch;
  }
  buf[p] = n;
  return q;
}

/** The varint bytes of `v`. */
function varintBytes(v: number): number[] {
  const b = Buffer.alloc(8);
  return [...b.subarray(0, writeVarint(b, 0, v))];
}

/** The writer of format `id` with these specifiers (one that always declines above MAX_FAST_ARGS). */
export function buildWriter(id: number, specs: readonly ArgKind[]): RecordWriter {
  if (specs.length > MAX_FAST_ARGS) return never;
  const checks: string[] = [];
  const writes: string[] = [];
  let fixed = 1 + 8 + 8; // tag, dt, ctx; the id's bytes are added below
  const strings: string[] = [];
  specs.forEach((k, i) => {
    const v = NAMES[i]!;
    if (k === 's') {
      checks.push(`typeof ${v} !== 'string'`);
      strings.push(`${v}.length`);
      fixed += 1;
      writes.push(`p = S(buf, p, end, ${v}); if (p < 0) return false;`);
    } else if (k === 'f') {
      checks.push(`typeof ${v} !== 'number'`);
      fixed += 8;
      writes.push(`sink.view.setFloat64(p, ${v}, true); p += 8;`);
    } else if (k === 'o' || k === 'j') {
      writes.push(`p = V(buf, p, end, ${v}); if (p < 0) return false;`);
    } else {
      checks.push(`typeof ${v} !== 'number' || (${v} | 0) !== ${v} || (${v} === 0 && 1 / ${v} < 0)`);
      fixed += 5;
      writes.push(
        `{ let z = ((${v} << 1) ^ (${v} >> 31)) >>> 0;`,
        '  while (z > 0x7f) { buf[p++] = (z & 0x7f) | 0x80; z >>>= 7; }',
        '  buf[p++] = z; }',
      );
    }
  });
  const idBytes = varintBytes(id);
  fixed += idBytes.length;
  const room = [String(fixed), ...strings].join(' + ');
  const body = `'use strict';
return function writeRecord${id}(sink, lv, cx, dt, ${NAMES.join(', ')}) {
  if (${checks.length ? checks.map((c) => `(${c})`).join(' || ') : 'false'}) return false;
  const buf = sink.buf;
  const end = sink.end;
  let p = sink.pos;
  if (p + ${room} > end) return false;
  buf[p] = cx === 0 ? lv | ${PACKED} : lv | ${PACKED | CTX};
${idBytes.map((b, i) => `  buf[p + ${i + 1}] = ${b};`).join('\n')}
  p += ${1 + idBytes.length};
  if (dt < 0x80) buf[p++] = dt; else p = L(buf, p, dt);
  if (cx !== 0) { if (cx < 0x80) buf[p++] = cx; else p = L(buf, p, cx); }
  ${writes.join('\n  ')}
  sink.pos = p;
  return true;
};`;
  return new Function('L', 'S', 'V', body)(writeVarint, writeString, writeValue) as RecordWriter;
}

/** Write any number of arguments with the generic tagged writer; -1 when `end` was reached. */
export function writeArgs(buf: Buffer, p: number, end: number, args: readonly unknown[]): number {
  for (let i = 0; i < args.length && p >= 0; i++) p = writeValue(buf, p, end, args[i]);
  return p;
}
