/**
 * Records, the contents of a block payload.
 *
 * ```
 * block   := 'B' base:varint record*              ; base: µs timestamp the first delta starts from
 * record  := event | fmtdef | ctxdef | dict | drops | unknown
 * event   := evtag id:varint [level:varint] dt:varint [ctx:varint] [argc:varint] value*
 *            ; evtag = level(1..6: trace..fatal; 7: a custom level, its pino number follows the id)
 *            ;         | 0x08 if ctx follows | 0x10 if argc follows
 *            ;         | 0x20 if the values are packed (then never with 0x10);
 *            ; without argc, the value count is the number of specifiers of format `id`
 * packed  := one packed value per specifier of format `id` (see value.ts): no type tags, each value is
 *            written as its specifier's kind; a writer packs a record only when every argument has that kind
 * fmtdef  := 0x40 id:varint len:varint utf8       ; a format interned at run time (id > 0xfffff)
 * ctxdef  := 0x41 ctx:varint len:varint utf8      ; bound fields of a (child) logger, a JSON object
 * dict    := 0x42 len:varint ascii                ; hash of the registered pre-compiled dictionary
 * drops   := 0x43 total:varint                    ; records dropped so far by this writer
 * unknown := 0x44 level:u8 dt:varint id:varint    ; a call with an id that no dictionary defines
 * ```
 * `dt` is the µs delta from the previous timestamped record of the block (or from `base`).
 *
 * Two conventions on events (both need argc, so never packed):
 * - a first value tagged V_FIELDS (value.ts) is the record's own fields (pino's merging object, an error
 *   as `{"err":{...}}`, mixin), a JSON object merged after the logger's bound fields; the format's
 *   arguments follow it (`fields` of the decoded record, `args` without it);
 * - id 0 (DYNAMIC_ID, never a dictionary or run-time id) is a message whose text was not interned: the
 *   first argument is the format text itself, the format's arguments follow.
 *
 * @example
 * // an info record of format 7 with one argument, 3 µs after the previous one
 * Buffer.from([3, 7, 3, 0x85]); // 3 = info; 0x85 is the integer 5 (see value.ts)
 */
import type { ArgKind } from '../format/index.js';
import type { Cursor } from './cursor.js';
import { CodecError } from './errors.js';
import { type ArgValue, FieldsArg, readPacked, readValue } from './value.js';
import { writeVarint } from './varint.js';

export const EV_CTX = 0x08;
export const EV_ARGC = 0x10;
export const EV_PACKED = 0x20;
export const R_FMTDEF = 0x40;
export const R_CTXDEF = 0x41;
export const R_DICT = 0x42;
export const R_DROPS = 0x43;
export const R_UNKNOWN = 0x44;
/** Event level index of a custom level (its number follows the id). */
export const LV_CUSTOM = 7;
/** Format id of an event that carries its format text as its first argument (a non-interned message). */
export const DYNAMIC_ID = 0;

/** Level numbers (pino's) by level index 1..6. */
export const LEVEL_NUMBERS = [0, 10, 20, 30, 40, 50, 60] as const;

export type LogRecord =
  | {
      kind: 'event';
      level: number;
      id: number;
      time: number;
      ctx: number;
      args: ArgValue[];
      /** The record's own fields (a JSON object text), or null. */
      fields: string | null;
    }
  | { kind: 'fmtdef'; id: number; fmt: string }
  | { kind: 'ctxdef'; ctx: number; json: string }
  | { kind: 'dict'; hash: string }
  | { kind: 'drops'; total: number }
  | { kind: 'unknown'; level: number; id: number; time: number };

/** Per-block reading state: the running timestamp. */
export interface BlockClock {
  time: number;
}

/**
 * Read one record. `kindsOf(id)` gives the specifiers of a known format, or undefined; an event of an
 * unknown format without an explicit argc cannot be delimited and is a CodecError.
 */
export function readRecord(
  c: Cursor,
  clock: BlockClock,
  kindsOf: (id: number) => readonly ArgKind[] | undefined,
): LogRecord {
  const tag = c.u8();
  if (tag < 0x40) {
    const lv = tag & 7;
    if (lv < 1 || (tag & (EV_PACKED | EV_ARGC)) === (EV_PACKED | EV_ARGC)) {
      throw new CodecError('CORRUPT', `bad event tag 0x${tag.toString(16)}`);
    }
    const id = c.varint();
    const level = lv === LV_CUSTOM ? c.varint() : LEVEL_NUMBERS[lv]!;
    clock.time += c.varint();
    const ctx = tag & EV_CTX ? c.varint() : 0;
    const kinds = id === DYNAMIC_ID ? undefined : kindsOf(id);
    const n = tag & EV_ARGC ? c.varint() : kinds === undefined ? -1 : kinds.length;
    if (n < 0) throw new CodecError('CORRUPT', `event of undefined format id ${id}`);
    if (n > c.remaining()) throw new CodecError('SHORT_INPUT', `argument count ${n} exceeds the block`);
    const args: ArgValue[] = new Array(n);
    if (tag & EV_PACKED) for (let i = 0; i < n; i++) args[i] = readPacked(c, kinds![i]!);
    else for (let i = 0; i < n; i++) args[i] = readValue(c);
    let fields: string | null = null;
    const first = args[0];
    if (first instanceof FieldsArg) {
      fields = first.json;
      args.shift();
    }
    return { kind: 'event', level, id, time: clock.time, ctx, args, fields };
  }
  switch (tag) {
    case R_FMTDEF:
      return { kind: 'fmtdef', id: c.varint(), fmt: c.str() };
    case R_CTXDEF:
      return { kind: 'ctxdef', ctx: c.varint(), json: c.str() };
    case R_DICT:
      return { kind: 'dict', hash: c.str() };
    case R_DROPS:
      return { kind: 'drops', total: c.varint() };
    case R_UNKNOWN: {
      const lv = c.u8();
      if (lv < 1 || lv > 6) throw new CodecError('CORRUPT', 'bad level in an unknown-id record');
      clock.time += c.varint();
      return { kind: 'unknown', level: LEVEL_NUMBERS[lv]!, time: clock.time, id: c.varint() };
    }
    default:
      throw new CodecError('CORRUPT', `unknown record tag 0x${tag.toString(16)} at offset ${c.pos - 1}`);
  }
}

/** Bytes a definition record of `text` needs at most. */
export function defSize(text: string): number {
  return 1 + 8 + 8 + Buffer.byteLength(text, 'utf8');
}

/** Write a fmtdef/ctxdef/dict record (the caller checked room with defSize); returns the new offset. */
export function writeDef(buf: Buffer, p: number, tag: number, key: number, text: string): number {
  buf[p++] = tag;
  if (tag !== R_DICT) p = writeVarint(buf, p, key);
  p = writeVarint(buf, p, Buffer.byteLength(text, 'utf8'));
  return p + buf.write(text, p, 'utf8');
}

/** Write a drops record (at most 9 bytes). */
export function writeDrops(buf: Buffer, p: number, total: number): number {
  buf[p] = R_DROPS;
  return writeVarint(buf, p + 1, total);
}

/** Write an unknown-id record (at most 18 bytes). */
export function writeUnknown(buf: Buffer, p: number, levelIndex: number, dt: number, id: number): number {
  buf[p] = R_UNKNOWN;
  buf[p + 1] = levelIndex;
  return writeVarint(buf, writeVarint(buf, p + 2, dt), id);
}
