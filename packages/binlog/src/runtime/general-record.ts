/**
 * A record on the general path (Core.logWith): any argument count and kinds, pino's fields, custom
 * levels. Written tagged (codec/record.ts, codec/value.ts), where the generated writers (encoder.ts)
 * write packed values.
 *
 * ```
 * evtag id [level] dt [ctx] [argc] [fields] value*     ; level: a custom level's pino number (LV_CUSTOM)
 * ```
 *
 * @example
 * const r = { lv: 3, level: 30, ctx: null, fields: { user: 'bob' }, fe: internFormat('paid %d'), args: [5] };
 * writeGeneral(buf, 0, buf.length, r, 12, null); // the offset after the record, or -1 when it does not fit
 */
import { EV_ARGC, EV_CTX, LV_CUSTOM, writeFields, writeVarint } from '../codec/index.js';
import { type Context, writeArgs } from './encoder.js';
import type { FormatEntry } from './format-table.js';
import type { RepeatedStrings } from './repeated-strings.js';

/** Room an event head needs: tag, id, level, dt, ctx, argc. */
export const HEAD_ROOM = 1 + 4 + 8 + 8 + 8 + 8;

export interface GeneralRecord {
  /** Level index 1..6, or LV_CUSTOM. */
  readonly lv: number;
  /** The pino level number (written for LV_CUSTOM). */
  readonly level: number;
  readonly ctx: Context | null;
  /** The record's own fields (pino's merging object, serialised and redacted), or null. */
  readonly fields: object | null;
  readonly fe: FormatEntry;
  readonly args: unknown[];
}

/**
 * Write `r` at `p` with time delta `dt`; the offset after it, or -1 when it does not fit before `end`.
 * Repeated strings the record defines stand only when it was written (`repeated`: the writer's table).
 */
export function writeGeneral(
  buf: Buffer,
  p: number,
  end: number,
  r: GeneralRecord,
  dt: number,
  repeated: RepeatedStrings | null,
): number {
  if (p + HEAD_ROOM > end) return -1;
  const { lv, ctx, fe, args, fields } = r;
  const argc = args.length + (fields === null ? 0 : 1);
  const counted = argc !== fe.n;
  buf[p] = lv | (ctx === null ? 0 : EV_CTX) | (counted ? EV_ARGC : 0);
  p = writeVarint(buf, p + 1, fe.id);
  if (lv === LV_CUSTOM) p = writeVarint(buf, p, r.level);
  p = writeVarint(buf, p, dt);
  if (ctx !== null) p = writeVarint(buf, p, ctx.id);
  if (counted) p = writeVarint(buf, p, argc);
  if (fields !== null) p = writeFields(buf, p, end, fields, repeated);
  if (p >= 0) p = writeArgs(buf, p, end, args);
  if (p >= 0) repeated?.commit();
  else repeated?.rollback();
  return p;
}

/** The first `argc` of a..g as an array (the general path's arguments; no slice of a larger array). */
export function argsOf(
  argc: number,
  a: unknown,
  b: unknown,
  c: unknown,
  d: unknown,
  e: unknown,
  g: unknown,
): unknown[] {
  switch (argc) {
    case 0:
      return [];
    case 1:
      return [a];
    case 2:
      return [a, b];
    case 3:
      return [a, b, c];
    case 4:
      return [a, b, c, d];
    case 5:
      return [a, b, c, d, e];
    default:
      return [a, b, c, d, e, g].slice(0, argc);
  }
}
