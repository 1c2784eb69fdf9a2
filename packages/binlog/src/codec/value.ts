/**
 * One argument value: a tag byte, then its payload. A JavaScript value has no static type: a `%d` may
 * receive NaN, a bigint or a string, and the decoder must print exactly what was passed. Records whose
 * arguments all have their specifier's kind are packed (no tags, below); any other record is tagged.
 *
 * ```
 * value := 0x80..0xff                      ; integer 0..127 in the tag itself
 *        | 0x01 zigzag-varint              ; int32
 *        | 0x02 f64le                      ; any other number: -0, NaN, ±Infinity, 2^53, 1.5
 *        | 0x03 len:varint utf8            ; string (lone surrogates were replaced by U+FFFD)
 *        | 0x04 | 0x05 | 0x06 | 0x07       ; undefined | null | false | true
 *        | 0x08 len:varint ascii-digits    ; bigint ("-" allowed)
 *        | 0x09 len:varint utf8            ; object or array, as JSON text (see safeJson)
 *        | 0x0a len:varint utf8            ; fields of this record, a JSON object (only as an event's
 *                                          ; first value: pino's merging object, `{ err }`, mixin)
 *        | 0x0b count:varint member*       ; the same fields, member by member (what the writer uses)
 *        | 0x0c count:varint member*       ; a plain object inside fields (decoded as JSON text)
 *        | 0x0d id:varint len:varint utf8  ; a string that defines repeated string `id` (inside fields)
 *        | 0x0e id:varint                  ; repeated string `id`, defined earlier in the same write
 * member := len:varint utf8 value          ; a key and its value
 * ```
 * Repeated strings: a long string value of fields that repeats (an error's stack logged again, the same
 * SQL text) is written once per write (0x0d) and referred to by id after that (0x0e); the writer decides
 * which (runtime/repeated-strings.ts). Like format definitions, a definition is repeated in every write
 * that uses it, so each write decodes on its own; ids are per writer (block2's stream).
 * Fields are written member by member, without JSON.stringify: strings and numbers keep their bytes, a
 * nested plain object is 0x0c up to depth 4; anything else (arrays, class instances, deeper objects) is
 * 0x09. Members whose value JSON drops (undefined, functions, symbols) are skipped; the decoder prints the
 * JSON that JSON.stringify would (non-finite numbers as null, bigints as digit strings).
 *
 * Packed values (an event with EV_PACKED, record.ts) have no tag: the format's specifier gives the kind.
 *
 * ```
 * packed := zigzag-varint                 ; %d %i %u %x: an int32 (not -0)
 *         | f64le                         ; %f: any number
 *         | len:varint utf8               ; %s: a string
 *         | value                         ; %o %j: a tagged value as above
 * ```
 *
 * @example
 * const b = Buffer.alloc(32);
 * const end = writeValue(b, 0, 32, -0); // 9
 * Object.is(readValue(new Cursor(b, 0, end)), -0); // true
 */
import type { ArgKind } from '../format/index.js';
import type { Cursor } from './cursor.js';
import { CodecError } from './errors.js';
import { safeJson } from './json-text.js';
import { writeVarint, writeZigzag } from './varint.js';

export const V_INT = 0x01;
export const V_F64 = 0x02;
export const V_STR = 0x03;
export const V_UNDEFINED = 0x04;
export const V_NULL = 0x05;
export const V_FALSE = 0x06;
export const V_TRUE = 0x07;
export const V_BIGINT = 0x08;
export const V_JSON = 0x09;
export const V_FIELDS = 0x0a;
export const V_FIELDS_MEMBERS = 0x0b;
export const V_OBJECT = 0x0c;
export const V_STRDEF = 0x0d;
export const V_STRREF = 0x0e;
/** Strings shorter than this are always written as text (a reference would not pay). */
export const REPEATED_MIN = 64;

/**
 * A writer's table of repeated strings (runtime/repeated-strings.ts), asked by writeFields for each long
 * string value: 0 to write it as text, `id` > 0 to refer to it (defined earlier in this write), `-id` to
 * define it here.
 */
export interface RepeatedStrings {
  use(s: string): number;
}
/** Plain objects nested deeper than this inside fields are written as JSON text. */
const MAX_MEMBER_DEPTH = 4;

// Buffer#write validates its arguments and dispatches on the encoding on every call; the underlying
// method is much cheaper for the strings of log records (a stack trace, a field's key).
const utf8Write: (this: Buffer, s: string, offset: number, length: number) => number =
  (Buffer.prototype as unknown as { utf8Write?: (this: Buffer, s: string, o: number, l: number) => number })
    .utf8Write ??
  function (this: Buffer, s: string, offset: number, length: number): number {
    return this.write(s, offset, length, 'utf8');
  };

/** A decoded object argument: its JSON text, kept as text (the decoder prints it; `value()` parses it). */
export class JsonArg {
  constructor(readonly json: string) {}
  value(): unknown {
    return JSON.parse(this.json);
  }
}

/** A record's own fields (V_FIELDS): a JSON object text, merged after the logger's bound fields. */
export class FieldsArg {
  constructor(readonly json: string) {}
}

/** What readValue returns. */
export type ArgValue = number | string | bigint | boolean | null | undefined | JsonArg | FieldsArg;

// DataView stores are several times cheaper than Buffer#writeDoubleLE; one view is kept for the last
// buffer written to (a writer alternates between at most two).
let viewOf: Uint8Array | null = null;
let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(8));

/** Store `v` as f64le at `p` (the caller checked the room). */
export function writeF64(buf: Buffer, p: number, v: number): void {
  if (buf !== viewOf) {
    viewOf = buf;
    view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }
  view.setFloat64(p, v, true);
}

/** Write a number; returns the new offset or -1 when fewer than 9 bytes are left. */
export function writeNumber(buf: Buffer, p: number, end: number, v: number): number {
  if (p + 9 > end) return -1;
  if ((v | 0) === v && !(v === 0 && 1 / v < 0)) {
    if (v >= 0 && v < 0x80) {
      buf[p] = 0x80 | v;
      return p + 1;
    }
    buf[p] = V_INT;
    return writeZigzag(buf, p + 1, v);
  }
  buf[p] = V_F64;
  writeF64(buf, p + 1, v);
  return p + 9;
}

/** Write a string (ASCII fast path); returns the new offset or -1 when it does not fit before `end`. */
export function writeString(buf: Buffer, p: number, end: number, s: string): number {
  const n = s.length;
  if (n < 0x80 && p + n + 2 <= end) {
    let q = p + 2;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return writeText(buf, p, end, V_STR, s);
      buf[q++] = c;
    }
    buf[p] = V_STR;
    buf[p + 1] = n;
    return q;
  }
  return writeText(buf, p, end, V_STR, s);
}

/**
 * Write a record's fields (an object: its own enumerable keys) member by member; -1 when they do not fit
 * before `end`. A getter or toJSON that throws makes it fall back to the JSON text of safeJson.
 */
export function writeFields(
  buf: Buffer,
  p: number,
  end: number,
  fields: object,
  repeated: RepeatedStrings | null = null,
): number {
  try {
    return writeMembers(buf, p, end, V_FIELDS_MEMBERS, fields, 0, repeated);
  } catch {
    return writeText(buf, p, end, V_FIELDS, safeJson(fields));
  }
}

function dropped(v: unknown): boolean {
  const t = typeof v;
  return t === 'undefined' || t === 'function' || t === 'symbol';
}

function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return (
    (proto === Object.prototype || proto === null) && typeof (v as { toJSON?: unknown }).toJSON !== 'function'
  );
}

function writeMembers(
  buf: Buffer,
  p: number,
  end: number,
  tag: number,
  obj: object,
  depth: number,
  repeated: RepeatedStrings | null,
): number {
  const rec = obj as Record<string, unknown>;
  const proto = Object.getPrototypeOf(rec);
  if (proto !== Object.prototype && proto !== null) return writeKeyed(buf, p, end, tag, rec, depth, repeated);
  // A plain object: for-in walks its own keys from V8's enum cache, without a keys array per call
  // (Object.keys allocates one). One pass: the member count's byte is filled in after the members; past
  // 127 members (a longer varint) the members move up. Members are position-independent.
  if (p + 2 > end) return -1;
  buf[p] = tag;
  const at = p + 1;
  let q = at + 1;
  let n = 0;
  for (const k in rec) {
    const v = rec[k];
    if (dropped(v)) continue;
    q = writeMember(buf, q, end, k, v, depth, repeated);
    if (q < 0) return -1;
    n++;
  }
  if (n < 0x80) {
    buf[at] = n;
    return q;
  }
  const extra = varintSize(n) - 1;
  if (q + extra > end) return -1;
  buf.copyWithin(at + 1 + extra, at + 1, q);
  writeVarint(buf, at, n);
  return q + extra;
}

/** Bytes of `n` as a varint (n >= 0). */
function varintSize(n: number): number {
  let k = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 128)) k++;
  return k;
}

/** writeMembers() for an object of a class: its own enumerable keys (as JSON.stringify takes them). */
function writeKeyed(
  buf: Buffer,
  p: number,
  end: number,
  tag: number,
  rec: Record<string, unknown>,
  depth: number,
  repeated: RepeatedStrings | null,
): number {
  const keys = Object.keys(rec);
  let n = 0;
  for (let i = 0; i < keys.length; i++) if (!dropped(rec[keys[i]!])) n++;
  if (p + 9 > end) return -1;
  buf[p] = tag;
  p = writeVarint(buf, p + 1, n);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = rec[k];
    if (dropped(v)) continue;
    p = writeMember(buf, p, end, k, v, depth, repeated);
    if (p < 0) return -1;
  }
  return p;
}

/**
 * One member of fields: its key, then its value (a long string may be a repeated one; a plain object,
 * members); -1 when it does not fit. `depth` is the depth of the object it belongs to (0: the record's
 * fields). Exported for writers that build a known object's members themselves (runtime/error-record.ts).
 */
export function writeMember(
  buf: Buffer,
  p: number,
  end: number,
  k: string,
  v: unknown,
  depth: number,
  repeated: RepeatedStrings | null,
): number {
  p = writePackedString(buf, p, end, k);
  if (p < 0) return -1;
  if (typeof v === 'string') {
    return v.length >= REPEATED_MIN && repeated !== null
      ? writeRepeated(buf, p, end, v, repeated.use(v))
      : writeString(buf, p, end, v);
  }
  return typeof v === 'object' && v !== null && depth < MAX_MEMBER_DEPTH && isPlain(v)
    ? writeMembers(buf, p, end, V_OBJECT, v, depth + 1, repeated)
    : writeValue(buf, p, end, v);
}

/** A long string as text (`use` 0), a definition (`-id`) or a reference (`id`); -1 when it does not fit. */
function writeRepeated(buf: Buffer, p: number, end: number, s: string, use: number): number {
  if (use === 0) return writeString(buf, p, end, s);
  if (p + 9 > end) return -1;
  if (use > 0) {
    buf[p] = V_STRREF;
    return writeVarint(buf, p + 1, use);
  }
  buf[p] = V_STRDEF;
  return writePackedString(buf, writeVarint(buf, p + 1, -use), end, s);
}

/** The JSON text of members read at the cursor (after a V_FIELDS_MEMBERS or V_OBJECT tag). */
function readMembers(c: Cursor): string {
  const n = c.varint();
  if (n > c.remaining()) throw new CodecError('SHORT_INPUT', `member count ${n} exceeds the block`);
  let s = '{';
  for (let i = 0; i < n; i++) {
    const k = c.str();
    s += `${i === 0 ? '' : ','}${JSON.stringify(k)}:${jsonOf(readValue(c))}`;
  }
  return `${s}}`;
}

/** A decoded value as JSON.stringify prints it inside an object. */
function jsonOf(v: ArgValue): string {
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'string':
      return JSON.stringify(v);
    case 'bigint':
      return `"${v.toString()}"`;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return 'null';
    default:
      return v === null ? 'null' : v.json;
  }
}

/** Strings at most this long (UTF-16 units) are written without measuring them first (see writeText). */
const UNMEASURED_MAX = 0x1fffff / 3;

function writeText(buf: Buffer, p: number, end: number, tag: number, s: string): number {
  // A long string with room for its worst case (3 bytes per unit) is written first and its length
  // stored after, in a 3-byte varint (non-minimal LEB128, which readers accept): no Buffer.byteLength pass.
  if (s.length >= 0x80 && s.length <= UNMEASURED_MAX && p + 4 + 3 * s.length <= end) {
    const w = utf8Write.call(buf, s, p + 4, end - p - 4);
    buf[p] = tag;
    buf[p + 1] = (w & 0x7f) | 0x80;
    buf[p + 2] = ((w >>> 7) & 0x7f) | 0x80;
    buf[p + 3] = w >>> 14;
    return p + 4 + w;
  }
  const n = Buffer.byteLength(s, 'utf8');
  if (p + n + 9 > end) return -1;
  buf[p] = tag;
  const q = writeVarint(buf, p + 1, n);
  return q + utf8Write.call(buf, s, q, n);
}

/** Write any value; returns the new offset or -1 when it does not fit before `end`. */
export function writeValue(buf: Buffer, p: number, end: number, v: unknown): number {
  switch (typeof v) {
    case 'number':
      return writeNumber(buf, p, end, v);
    case 'string':
      return writeString(buf, p, end, v);
    case 'boolean':
      if (p >= end) return -1;
      buf[p] = v ? V_TRUE : V_FALSE;
      return p + 1;
    case 'undefined':
      if (p >= end) return -1;
      buf[p] = V_UNDEFINED;
      return p + 1;
    case 'bigint':
      return writeText(buf, p, end, V_BIGINT, v.toString());
    case 'object':
      if (v === null) {
        if (p >= end) return -1;
        buf[p] = V_NULL;
        return p + 1;
      }
      return writeText(buf, p, end, V_JSON, safeJson(v));
    default:
      return writeText(buf, p, end, V_STR, describe(v));
  }
}

function describe(v: unknown): string {
  if (typeof v === 'function') return `[Function ${v.name || '(anonymous)'}]`;
  try {
    return String(v);
  } catch {
    return '[unprintable]';
  }
}

const BIGINT_RE = /^-?[0-9]+$/;

/** Read one value written by writeValue. */
export function readValue(c: Cursor): ArgValue {
  const t = c.u8();
  if (t >= 0x80) return t & 0x7f;
  switch (t) {
    case V_INT:
      return c.zigzag();
    case V_F64:
      return c.f64();
    case V_STR:
      return c.str();
    case V_UNDEFINED:
      return undefined;
    case V_NULL:
      return null;
    case V_FALSE:
      return false;
    case V_TRUE:
      return true;
    case V_BIGINT: {
      const s = c.str();
      if (!BIGINT_RE.test(s)) throw new CodecError('CORRUPT', 'bad bigint digits');
      return BigInt(s);
    }
    case V_JSON:
      return new JsonArg(c.str());
    case V_FIELDS:
      return new FieldsArg(c.str());
    case V_FIELDS_MEMBERS:
      return new FieldsArg(readMembers(c));
    case V_OBJECT:
      return new JsonArg(readMembers(c));
    case V_STRDEF: {
      const id = c.varint();
      const s = c.str();
      c.strings?.set(id, s);
      return s;
    }
    case V_STRREF: {
      const id = c.varint();
      const s = c.strings?.get(id);
      if (s === undefined) throw new CodecError('CORRUPT', `reference to undefined repeated string ${id}`);
      return s;
    }
    default:
      throw new CodecError('CORRUPT', `unknown value tag 0x${t.toString(16)} at offset ${c.pos - 1}`);
  }
}

/** Read one packed value of specifier kind `k` (see the grammar above). */
export function readPacked(c: Cursor, k: ArgKind): ArgValue {
  switch (k) {
    case 'd':
    case 'i':
    case 'u':
    case 'x':
      return c.zigzag();
    case 'f':
      return c.f64();
    case 's':
      return c.str();
    default:
      return readValue(c);
  }
}

/** Write a string as a packed `%s` value (len:varint utf8); -1 when it does not fit before `end`. */
export function writePackedString(buf: Buffer, p: number, end: number, s: string): number {
  const len = s.length;
  if (len < 0x80 && p + len + 1 <= end) {
    // short ASCII (keys, names, codes): byte by byte, cheaper than measuring then encoding
    let q = p + 1;
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[q++] = c;
    }
    if (i === len) {
      buf[p] = len;
      return q;
    }
  }
  const n = Buffer.byteLength(s, 'utf8');
  if (p + n + 8 > end) return -1;
  const q = writeVarint(buf, p, n);
  return q + utf8Write.call(buf, s, q, n);
}
