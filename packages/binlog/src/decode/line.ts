/**
 * Output lines for decoded events: text for people, JSON lines with pino's keys for tools (so that
 * `binlog decode --json app.blog | pino-pretty` works).
 *
 * ```
 * text: 2026-11-25T21:04:05.123Z INFO user bob paid 1200 cents in 0.35 s {"req":7}
 * json: {"level":30,"time":1795641845123,"pid":42,"req":7,"msg":"user bob paid 1200 cents in 0.35 s"}
 * ```
 * `time` is integral ms (pino's); the ISO text keeps ms too. Fields follow pino's order (before msg).
 * Text lines escape control characters (C0, DEL, C1, U+2028/U+2029) in the message and fields: a
 * newline in a message prints as `\n`, so one record is always one line and cannot pose as several
 * (log forging). JSON lines are escaped by JSON itself.
 *
 * @example
 * new LineFormatter().text(event); // '2026-11-25T21:04:05.123Z INFO user bob ...'
 */
import type { DecodedEvent } from './reader.js';

const NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters it finds
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters it replaces
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `s` with its control characters written as escapes (`\n`, `\r`, `\t`, `\u001b`...). */
export function escapeControls(s: string): string {
  if (!CONTROL.test(s)) return s;
  return s.replace(CONTROL_ALL, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export class LineFormatter {
  private second = Number.NaN;
  private prefix = '';

  /** ISO-8601 UTC with ms; the text up to the seconds is cached per second. */
  iso(ms: number): string {
    const t = Math.floor(ms);
    const sec = Math.floor(t / 1000);
    if (sec !== this.second) {
      this.second = sec;
      this.prefix = new Date(sec * 1000).toISOString().slice(0, 20);
    }
    const m = t - sec * 1000;
    return `${this.prefix}${m < 10 ? '00' : m < 100 ? '0' : ''}${m}Z`;
  }

  text(e: DecodedEvent): string {
    const lv = NAMES[e.level] ?? String(e.level);
    const msg = escapeControls(e.msg);
    return e.fields === null || e.fields === '{}'
      ? `${this.iso(e.time)} ${lv} ${msg}`
      : `${this.iso(e.time)} ${lv} ${msg} ${escapeControls(e.fields)}`;
  }

  /** The last fields text json() saw and its members as a line's part (records of a context share one text). */
  private fieldsText: string | null = null;
  private fieldsPart = '';

  json(e: DecodedEvent): string {
    const head = `{"level":${e.level},"time":${Math.floor(e.time)},"pid":${e.pid}`;
    if (e.fields !== this.fieldsText) {
      this.fieldsText = e.fields;
      this.fieldsPart =
        e.fields !== null && e.fields.length > 2 && e.fields[0] === '{' ? `,${e.fields.slice(1, -1)}` : '';
    }
    const f = this.fieldsPart;
    return `${head}${f},"msg":"${e.msgJson}"}`;
  }
}
