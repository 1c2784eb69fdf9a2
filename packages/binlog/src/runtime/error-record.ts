/**
 * `log.error(err)` written from the error itself: the bytes the general path writes for it
 * (general-record.ts: `{ err: stdSerializers.err(err) }` as fields, then the message as the `%s`
 * argument), without building the serialised object, its `{ err }` wrapper or the arguments array.
 *
 * ```
 * evtag id dt [ctx] argc=2  0x0b 1 "err" 0x0c n  "type" str  "message" str  "stack" (str | 0x0d | 0x0e)
 *                                                 own enumerable members...       0x03 message
 * ```
 * The common error only: no cause, no `errors` (AggregateError), no error-like value among its own
 * properties, fewer than 128 of them, a string message. Anything else (or a getter that throws) is
 * NOT_PLAIN, and the caller takes the general path, which writes what pino's serializer gives for it.
 * The constructor's name is kept for the last constructor seen (a service logs few error classes).
 *
 * @example
 * const p = writeErrorRecord(buf, pos, end, 5, null, internFormat('%s'), err, dt, repeated);
 * // the offset after the record; -1 when it does not fit; NOT_PLAIN for the general path
 */
import {
  EV_ARGC,
  EV_CTX,
  REPEATED_MIN,
  V_FIELDS_MEMBERS,
  V_OBJECT,
  writeMember,
  writeString,
  writeVarint,
} from '../codec/index.js';
import type { Context } from './encoder.js';
import type { FormatEntry } from './format-table.js';
import { HEAD_ROOM } from './general-record.js';
import type { RepeatedStrings } from './repeated-strings.js';

/** writeErrorRecord's answer for an error the general path must write. */
export const NOT_PLAIN = -2;

/** Bytes of the key "message" after its length byte. */
const MESSAGE_KEY = 7;

/** The fields' fixed start: 0x0b, one member, the key "err", 0x0c (the member count follows). */
const ERR_HEAD = Buffer.from([V_FIELDS_MEMBERS, 1, 3, 0x65, 0x72, 0x72, V_OBJECT]);

let lastCtor: unknown = null;
let lastName = '';

/** pino's `type`: the constructor's name, else `name`, else 'Error' (serializers.ts). */
function typeName(e: Error): string {
  const ctor = (e as { constructor?: unknown }).constructor;
  if (ctor === lastCtor) return lastName;
  if (typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name !== '') {
    lastCtor = ctor;
    lastName = ctor.name;
    return lastName;
  }
  return typeof e.name === 'string' ? e.name : 'Error';
}

function errorLike(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string';
}

/**
 * Write the record of `log.error(err)` (level index `lv`, 1..6) with format `fe` ('%s') at `p`; the offset
 * after it, -1 when it does not fit before `end`, or NOT_PLAIN.
 */
export function writeErrorRecord(
  buf: Buffer,
  p: number,
  end: number,
  lv: number,
  ctx: Context | null,
  fe: FormatEntry,
  err: Error,
  dt: number,
  repeated: RepeatedStrings,
): number {
  try {
    const message = err.message;
    const e = err as unknown as Record<string, unknown>;
    if (typeof message !== 'string' || e.cause !== undefined || e.errors !== undefined) return NOT_PLAIN;
    if (p + HEAD_ROOM + ERR_HEAD.length + 1 > end) return -1;
    buf[p] = lv | (ctx === null ? 0 : EV_CTX) | (fe.n !== 2 ? EV_ARGC : 0);
    p = writeVarint(buf, p + 1, fe.id);
    p = writeVarint(buf, p, dt);
    if (ctx !== null) p = writeVarint(buf, p, ctx.id);
    if (fe.n !== 2) buf[p++] = 2;
    for (let i = 0; i < ERR_HEAD.length; i++) buf[p++] = ERR_HEAD[i]!;
    const at = p++;
    const stack = e.stack;
    p = writeMember(buf, p, end, 'type', typeName(err), 1, repeated);
    // the message's value bytes, written again as the '%s' argument (the same encoding: writeString)
    const m0 = p + 1 + MESSAGE_KEY;
    if (p >= 0) p = writeMember(buf, p, end, 'message', message, 1, repeated);
    const m1 = message.length < REPEATED_MIN ? p : -1;
    if (p >= 0) p = writeMember(buf, p, end, 'stack', typeof stack === 'string' ? stack : '', 1, repeated);
    let n = 3;
    for (const k in e) {
      if (p < 0) return -1;
      if (k === 'type' || k === 'message' || k === 'stack') continue;
      const v = e[k];
      const t = typeof v;
      if (t === 'undefined' || t === 'function' || t === 'symbol') continue;
      if (errorLike(v)) {
        if (v === e) continue; // serializers.ts skips the error itself
        return NOT_PLAIN;
      }
      p = writeMember(buf, p, end, k, v, 1, repeated);
      if (++n >= 0x80) return NOT_PLAIN;
    }
    if (p < 0) return -1;
    buf[at] = n;
    if (m1 < 0) return writeString(buf, p, end, message);
    if (p + (m1 - m0) > end) return -1;
    for (let i = m0; i < m1; i++) buf[p++] = buf[i]!;
    return p;
  } catch {
    return NOT_PLAIN;
  }
}
