/**
 * Output lines for decoded events: text for people, JSON lines with pino's keys for tools (so that
 * `binlog decode --json app.blog | pino-pretty` works).
 *
 * ```
 * text: 2026-11-25T21:04:05.123Z INFO user bob paid 1200 cents in 0.35 s {"req":7}
 * json: {"level":30,"time":1795641845123,"pid":42,"req":7,"msg":"user bob paid 1200 cents in 0.35 s"}
 * ```
 * `time` is integral ms (pino's); the ISO text keeps ms too. Fields follow pino's order (before msg).
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
    return e.fields === null || e.fields === '{}'
      ? `${this.iso(e.time)} ${lv} ${e.msg}`
      : `${this.iso(e.time)} ${lv} ${e.msg} ${e.fields}`;
  }

  json(e: DecodedEvent): string {
    const head = `{"level":${e.level},"time":${Math.floor(e.time)},"pid":${e.pid}`;
    const f =
      e.fields !== null && e.fields.length > 2 && e.fields[0] === '{' ? `,${e.fields.slice(1, -1)}` : '';
    return `${head}${f},"msg":${JSON.stringify(e.msg)}}`;
  }
}
