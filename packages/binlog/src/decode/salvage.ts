/**
 * Records of a damaged frame: a frame that is whole (SYNC, a length leading to the next SYNC) but failed
 * its CRC still holds records the damage did not touch. Records carry no marks of their own, so the
 * reader walks them and keeps each one that decodes cleanly and is plausible (its judge: a known format
 * or context, argument values of the right kinds, valid UTF-8, a sane time step); where one does not, it
 * tries the following byte offsets until one starts a chain of CHAIN plausible records (or of plausible
 * records up to the frame's end), and skips the bytes between.
 *
 * ```
 *  rec rec rec [rec ##damage## rec] rec rec      kept: the records before and after;
 *              ^pos: fails   q: a chain holds ^  skipped: pos..q (the records the damage touched)
 * ```
 * What this cannot tell: damage that leaves a record well-formed (a digit of a number, a letter of a
 * string) is not detected; such a record is kept with the damaged value. Times after a gap are early by
 * the time steps of the records lost in it (they are delta-coded; the next frame's base is exact again).
 * The reader reports damaged frames and the bytes skipped in them (ReaderStats).
 *
 * @example
 * const kept = salvageRecords(cursor, { time: head.base }, judge, apply, skip);
 */
import {
  type BlockClock,
  CodecError,
  type Cursor,
  DYNAMIC_ID,
  type LogRecord,
  MAX_DICTIONARY_ID,
} from '../codec/index.js';
import { compileFormat } from './message.js';

/** Plausible records in a row that make an offset a record boundary. */
const CHAIN = 3;
/** Largest time step between records of one frame a salvaged record may have (a frame spans a flush interval). */
const MAX_STEP_US = 3600e6;
/**
 * Bytes past a failing record searched for the next boundary; the rest of a larger frame (one record
 * larger than a buffer has its own frame, up to MAX_PAYLOAD) is skipped rather than searched byte by byte.
 */
const MAX_SEARCH = 64 * 1024;
/** Most arguments a salvaged record may have. */
const MAX_ARGS = 64;

/** What a judge knows of the writer a damaged frame belongs to (the reader's state of its stream). */
export interface WriterState {
  readonly formats: ReadonlyMap<number, { readonly text: string }>;
  readonly ctx: ReadonlyMap<number, string>;
  readonly drops: number;
}

/**
 * `r` if it is plausible for writer `st`, else null: an event of a known format (`known(id)`) or a message
 * text, of a known context, with a sane time step (`step` µs; 0 for a frame's first record) and argument
 * count; a definition that agrees with what is known (or a new one that parses); drop totals that only grow.
 */
export function plausible(
  r: LogRecord,
  step: number,
  st: WriterState,
  known: (id: number) => boolean,
): LogRecord | null {
  switch (r.kind) {
    case 'event': {
      if (step > MAX_STEP_US || r.args.length > MAX_ARGS) return null;
      if (r.ctx !== 0 && !st.ctx.has(r.ctx)) return null;
      if (r.id === DYNAMIC_ID) return typeof r.args[0] === 'string' ? r : null;
      return known(r.id) ? r : null;
    }
    case 'fmtdef': {
      if (r.id <= MAX_DICTIONARY_ID) return null;
      const f = st.formats.get(r.id);
      if (f !== undefined) return f.text === r.fmt ? r : null;
      try {
        compileFormat(r.fmt, false);
        return r;
      } catch {
        return null;
      }
    }
    case 'ctxdef': {
      const json = st.ctx.get(r.ctx);
      if (json !== undefined) return json === r.json ? r : null;
      try {
        const v: unknown = JSON.parse(r.json);
        return typeof v === 'object' && v !== null ? r : null;
      } catch {
        return null;
      }
    }
    case 'dict':
      return /^[0-9a-f]*$/.test(r.hash) ? r : null;
    case 'drops':
      return r.total >= st.drops ? r : null;
    default:
      return r;
  }
}

/**
 * Read the record at the cursor (advancing the clock) and return it if plausible, else null; may throw
 * CodecError. `first`: the first record of the frame (its time step may be any: the writer was idle).
 */
export type Judge = (c: Cursor, clock: BlockClock, first: boolean) => LogRecord | null;

interface Attempt {
  readonly rec: LogRecord;
  readonly next: number;
  readonly time: number;
}

function attempt(c: Cursor, pos: number, time: number, judge: Judge, first: boolean): Attempt | null {
  c.pos = pos;
  const clock = { time };
  try {
    const rec = judge(c, clock, first);
    return rec === null ? null : { rec, next: c.pos, time: clock.time };
  } catch (e) {
    if (e instanceof CodecError) return null;
    throw e;
  }
}

/** True when CHAIN plausible records start at `q` (or fewer that end exactly at the frame's end). */
function chainHolds(c: Cursor, q: number, time: number, judge: Judge): boolean {
  let pos = q;
  for (let i = 0; i < CHAIN; i++) {
    const a = attempt(c, pos, time, judge, false);
    if (a === null) return false;
    if (a.next >= c.end) return true;
    pos = a.next;
    time = a.time;
  }
  return true;
}

/**
 * Walk the records from the cursor to its end: `apply` each plausible one, in order, and `skip(at, n)`
 * the bytes between a failing record and the next boundary found. Returns the number of records kept.
 */
export function salvageRecords(
  c: Cursor,
  clock: BlockClock,
  judge: Judge,
  apply: (r: LogRecord) => void,
  skip: (at: number, n: number) => void,
): number {
  const end = c.end;
  let pos = c.pos;
  let first = true;
  let kept = 0;
  while (pos < end) {
    const a = attempt(c, pos, clock.time, judge, first);
    first = false;
    if (a !== null) {
      clock.time = a.time;
      apply(a.rec);
      kept++;
      pos = a.next;
      continue;
    }
    let q = pos + 1;
    while (q < end && !chainHolds(c, q, clock.time, judge)) if (++q - pos > MAX_SEARCH) q = end;
    skip(pos, q - pos);
    pos = q;
  }
  return kept;
}
