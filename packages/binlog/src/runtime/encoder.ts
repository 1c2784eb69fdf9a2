/**
 * Per-format record writers. For a format with n <= MAX_FAST_ARGS specifiers, buildWriter() generates
 * (with `new Function`, once per format) a function that is the whole common path of a log call of that
 * format: it checks the argument count and kinds, that the format's definition (and the context's) is
 * already in the stream and that the record fits, reads the clock, and writes one packed event
 * (codec/record.ts): the event tag, the id as constant bytes, the time delta, the context id, then each
 * argument without a type tag, with the exact stores its specifier needs: a zigzag varint loop for
 * `%d %i %u %x`, a DataView store for `%f`, a charCodeAt loop for short ASCII `%s` (writeAscii(), a
 * shared helper). The room for the whole record is checked once, before the first store.
 *
 * It returns false, having written nothing that counts, when anything is not as expected (an argument of
 * another kind, such as a `%d` given NaN, a bigint or a string; a missing definition; no room; a closed
 * sink): the caller then takes its general path. This is what a pre-compiled call site costs at run time,
 * and a mode-1 call once its format is interned.
 *
 * Why the clock is read here, in the generated code, rather than by the caller: the time in µs is above
 * 2^31, so passing it into a call boxes it into a new heap number; and `process.hrtime()` returns an
 * array, which only disappears when TurboFan inlines it. V8 inlines by bytecode budgets (460 bytes per
 * inlinee, 920 in all per optimized function); a writer with a few arguments is above 460 bytes, so it is
 * compiled on its own, and its own budget holds the clock (preciseMicros + hrtime: 286 bytes) and the
 * string helper. The level method and Core.log are inlined into the call site and make one call: here.
 * (With the clock read in Core.log, whichever of the clock and the writer lost the caller's budget was
 * called instead: a boxed time or an hrtime array per record, measured at 2x the scavenges.)
 *
 * Where code generation from strings is disallowed (`node --disallow-code-generation-from-strings`),
 * buildWriter() returns genericWriter(): the same checks and bytes from a loop over the specifiers
 * (slower, but the logger works). writeDynamic() is the hand-written writer of a message that was not
 * interned (DYNAMIC_ID, format-table.ts): its text as the only argument.
 *
 * @example
 * const w = buildWriter(7, -1, ['d', 's']);
 * w(core, 3, null, 2, 5, 'hi'); // true: [0x23, 7, dt, 0x0a, 2, 'h', 'i'] at core.pos
 */
import {
  DYNAMIC_ID,
  EV_ARGC,
  writePackedString,
  writeString,
  writeValue,
  writeVarint,
  writeZigzag,
} from '../codec/index.js';
import type { ArgKind } from '../format/index.js';
import { preciseMicros } from './clock.js';

/** Arguments a generated writer (and a log method's fast path) takes as named parameters. */
export const MAX_FAST_ARGS = 6;

/** Bound fields of a (child) logger: a JSON object, defined in the stream before its first use. */
export interface Context {
  readonly id: number;
  readonly json: string;
  written: boolean;
}

/** The writer's state a record is appended to (Core). */
export interface RecordSink {
  buf: Buffer;
  /** A DataView over exactly `buf`. */
  view: DataView;
  pos: number;
  readonly end: number;
  /** Timestamp (µs) of the previous record; records never go back in time. */
  lastT: number;
  closed: boolean;
  /** The registered dictionary's hash is in the stream (dictionary formats may be used). */
  dictWritten: boolean;
  /** fmtSeen[i] === 1: run-time format i has its definition in the stream. */
  fmtSeen: Uint8Array;
  /** The coarse clock, or null for process.hrtime() per record. */
  readonly coarse: { micros(): number } | null;
}

/**
 * Appends one packed event at `sink.pos` (level index `lv`, context `ctx`, `argc` arguments a..f) and
 * advances `sink.pos` and `sink.lastT`; false when the caller must write it on its general path.
 */
export type RecordWriter = (
  sink: RecordSink,
  lv: number,
  ctx: Context | null,
  argc: number,
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
 * A short ASCII `%s` argument, byte by byte (cheaper than a UTF-8 encoder call for a few characters):
 * the position after it, or -1 when `s` is not short ASCII (the caller then uses the codec). The caller
 * has checked room for `s.length + 1` bytes.
 */
function writeAscii(buf: Buffer, p: number, s: string): number {
  const n = s.length;
  if (n >= 0x80) return -1;
  let q = p + 1;
  for (let i = 0; i < n; i++) {
    const ch = s.charCodeAt(i);
    if (ch >= 0x80) return -1;
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

/** False under `--disallow-code-generation-from-strings` (then no writer is generated). */
const codegen = ((): boolean => {
  try {
    return new Function('return true')() === true;
  } catch {
    return false;
  }
})();

/**
 * The writer of format `id` with these specifiers; `index` is its run-time format index (whose definition
 * must be in the stream), or -1 for a dictionary format (the dictionary's hash must be). One that always
 * declines above MAX_FAST_ARGS or for `specs` null (a format written on the general path only).
 */
export function buildWriter(id: number, index: number, specs: readonly ArgKind[] | null): RecordWriter {
  if (specs === null || specs.length > MAX_FAST_ARGS) return never;
  if (!codegen) return genericWriter(id, index, specs);
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
      writes.push(
        `{ const q = S(buf, p, ${v}); p = q >= 0 ? q : U(buf, p, end, ${v}); if (p < 0) return false; }`,
      );
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
  // strict comparisons: a plain `if (flag)` on a field compiles to a generic ToBoolean
  const defined = index < 0 ? 'sink.dictWritten !== true' : `sink.fmtSeen[${index}] !== 1`;
  const body = `'use strict';
return function writeRecord${id}(sink, lv, ctx, argc, ${NAMES.join(', ')}) {
  if (argc !== ${specs.length}${checks.map((c) => ` || (${c})`).join('')}) return false;
  if (sink.closed !== false || ${defined} || (ctx !== null && ctx.written !== true)) return false;
  const buf = sink.buf;
  const end = sink.end;
  let p = sink.pos;
  if (p + ${room} > end) return false;
  const cc = sink.coarse;
  let t = cc === null ? P() : cc.micros();
  const last = sink.lastT;
  if (t < last) t = last;
  const dt = t - last;
  buf[p] = ctx === null ? lv | ${PACKED} : lv | ${PACKED | CTX};
${idBytes.map((b, i) => `  buf[p + ${i + 1}] = ${b};`).join('\n')}
  p += ${1 + idBytes.length};
  if (dt < 0x80) buf[p++] = dt; else p = L(buf, p, dt);
  if (ctx !== null) { const cx = ctx.id; if (cx < 0x80) buf[p++] = cx; else p = L(buf, p, cx); }
  ${writes.join('\n  ')}
  sink.pos = p;
  sink.lastT = t;
  return true;
};`;
  return new Function('L', 'S', 'U', 'V', 'P', body)(
    writeVarint,
    writeAscii,
    writePackedString,
    writeValue,
    preciseMicros,
  ) as RecordWriter;
}

/** The current time (µs) for a record of `sink`, never before its previous record's. */
function recordTime(sink: RecordSink): number {
  const cc = sink.coarse;
  const t = cc === null ? preciseMicros() : cc.micros();
  return Math.max(t, sink.lastT);
}

/** True when `v` has the kind specifier `k` packs. */
function packs(k: ArgKind, v: unknown): boolean {
  if (k === 's') return typeof v === 'string';
  if (k === 'f') return typeof v === 'number';
  if (k === 'o' || k === 'j') return true;
  return typeof v === 'number' && (v | 0) === v && !(v === 0 && 1 / v < 0);
}

/** The record head (tag, id, dt, ctx) at `p`; the caller checked HEAD bytes of room. */
function writeHead(buf: Buffer, p: number, tag: number, id: number, dt: number, ctx: Context | null): number {
  buf[p] = ctx === null ? tag : tag | CTX;
  p = writeVarint(buf, writeVarint(buf, p + 1, id), dt);
  return ctx === null ? p : writeVarint(buf, p, ctx.id);
}

/** Room a record head needs at most: tag, id, dt, ctx. */
const HEAD = 1 + 8 + 8 + 8;

/** buildWriter() without code generation: the same record, from a loop over the specifiers. */
function genericWriter(id: number, index: number, specs: readonly ArgKind[]): RecordWriter {
  const n = specs.length;
  return (sink, lv, ctx, argc, a, b, c, d, e, f) => {
    if (argc !== n || sink.closed !== false) return false;
    if (index < 0 ? sink.dictWritten !== true : sink.fmtSeen[index] !== 1) return false;
    if (ctx !== null && ctx.written !== true) return false;
    const args = [a, b, c, d, e, f];
    for (let i = 0; i < n; i++) if (!packs(specs[i]!, args[i])) return false;
    const buf = sink.buf;
    const end = sink.end;
    if (sink.pos + HEAD > end) return false;
    const t = recordTime(sink);
    let p = writeHead(buf, sink.pos, lv | PACKED, id, t - sink.lastT, ctx);
    for (let i = 0; i < n && p >= 0; i++) {
      const k = specs[i]!;
      const v = args[i];
      if (k === 's') p = writePackedString(buf, p, end, v as string);
      else if (k === 'o' || k === 'j') p = writeValue(buf, p, end, v);
      else if (k === 'f') {
        if (p + 8 > end) return false;
        sink.view.setFloat64(p, v as number, true);
        p += 8;
      } else p = p + 5 > end ? -1 : writeZigzag(buf, p, v as number);
    }
    if (p < 0) return false;
    sink.pos = p;
    sink.lastT = t;
    return true;
  };
}

/**
 * A message that was not interned (format-table.ts): a DYNAMIC_ID event whose only argument is the text.
 * False, having written nothing that counts, when the caller must take its general path.
 */
export function writeDynamic(sink: RecordSink, lv: number, ctx: Context | null, text: string): boolean {
  if (sink.closed !== false || (ctx !== null && ctx.written !== true)) return false;
  const buf = sink.buf;
  const end = sink.end;
  let p = sink.pos;
  if (p + HEAD + 1 > end) return false;
  const t = recordTime(sink);
  p = writeHead(buf, p, lv | EV_ARGC, DYNAMIC_ID, t - sink.lastT, ctx);
  buf[p] = 1;
  p = writeString(buf, p + 1, end, text);
  if (p < 0) return false;
  sink.pos = p;
  sink.lastT = t;
  return true;
}

/** Write any number of arguments with the generic tagged writer; -1 when `end` was reached. */
export function writeArgs(buf: Buffer, p: number, end: number, args: readonly unknown[]): number {
  for (let i = 0; i < args.length && p >= 0; i++) p = writeValue(buf, p, end, args[i]);
  return p;
}
