/**
 * Event filters of `binlog decode`: minimum level, earliest time, and a regular expression over the
 * message and fields.
 *
 * @example
 * const keep = makeFilter({ level: 'warn', since: '2026-11-25T21:00:00Z', grep: 'paid' });
 * keep(event); // true or false
 */
import { DecodeError } from './errors.js';
import type { DecodedEvent } from './reader.js';

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export interface FilterOptions {
  /** A level name or a pino number: keep events at this level or above. */
  readonly level?: string | undefined;
  /** ISO date/time, epoch ms, or a relative age such as `90s`, `15m`, `2h`, `1d` before `now`. */
  readonly since?: string | undefined;
  /** A JavaScript regular expression tested against the message and the fields' JSON. */
  readonly grep?: string | undefined;
}

/** Parse a --since value into epoch ms; throws DecodeError('BAD_FILTER'). */
export function parseSince(s: string, now = Date.now()): number {
  const rel = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(s);
  if (rel) {
    const unit = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[rel[2] as 'ms'];
    return now - Number(rel[1]) * unit;
  }
  if (/^\d+$/.test(s)) return Number(s);
  const t = Date.parse(s);
  if (Number.isNaN(t))
    throw new DecodeError(
      'BAD_FILTER',
      `--since: cannot read '${s}' as a time (ISO 8601, epoch ms, or 30s/15m/2h/1d)`,
    );
  return t;
}

/** Parse a --level value; throws DecodeError('BAD_FILTER'). */
export function parseLevel(s: string): number {
  const n = LEVELS[s.toLowerCase()] ?? (/^\d+$/.test(s) ? Number(s) : Number.NaN);
  if (Number.isNaN(n))
    throw new DecodeError(
      'BAD_FILTER',
      `--level: expected trace|debug|info|warn|error|fatal or a number, got '${s}'`,
    );
  return n;
}

/** A predicate for the given options (all of them must hold). */
export function makeFilter(o: FilterOptions): (e: DecodedEvent) => boolean {
  const min = o.level === undefined ? Number.NEGATIVE_INFINITY : parseLevel(o.level);
  const since = o.since === undefined ? Number.NEGATIVE_INFINITY : parseSince(o.since);
  let re: RegExp | null = null;
  if (o.grep !== undefined) {
    try {
      re = new RegExp(o.grep);
    } catch (e) {
      throw new DecodeError('BAD_FILTER', `--grep: ${(e as Error).message}`);
    }
  }
  return (e) =>
    e.level >= min &&
    e.time >= since &&
    (re === null || re.test(e.msg) || (e.fields !== null && re.test(e.fields)));
}
