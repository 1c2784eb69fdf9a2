/**
 * What `binlog stats` reports: record counts per level and per format, plus the reader's frame,
 * byte, skip and drop counts.
 *
 * @example
 * const s = new LogStats();
 * readLogFile('app.blog', reader, (e) => s.add(e));
 * s.report(reader.stats);
 */
import type { DecodedEvent, ReaderStats } from './reader.js';

const NAMES: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

export interface StatsReport extends ReaderStats {
  readonly perLevel: Record<string, number>;
  readonly perFormat: { id: number; fmt: string; count: number }[];
  readonly firstTime: string | null;
  readonly lastTime: string | null;
}

export class LogStats {
  private readonly levels = new Map<number, number>();
  /** By id; a record that carries its text (id 0: a message that was not interned) by its text. */
  private readonly formats = new Map<number | string, { id: number; fmt: string; count: number }>();
  private first = Number.POSITIVE_INFINITY;
  private last = Number.NEGATIVE_INFINITY;

  add(e: DecodedEvent): void {
    this.levels.set(e.level, (this.levels.get(e.level) ?? 0) + 1);
    const key = e.id === 0 ? e.fmt : e.id;
    const f = this.formats.get(key);
    if (f) f.count++;
    else this.formats.set(key, { id: e.id, fmt: e.fmt, count: 1 });
    if (e.time < this.first) this.first = e.time;
    if (e.time > this.last) this.last = e.time;
  }

  report(r: ReaderStats): StatsReport {
    const perLevel: Record<string, number> = {};
    for (const [lv, n] of [...this.levels].sort((a, b) => a[0] - b[0])) perLevel[NAMES[lv] ?? String(lv)] = n;
    const perFormat = [...this.formats.values()]
      .map((f) => ({ id: f.id, fmt: f.fmt, count: f.count }))
      .sort((a, b) => b.count - a.count);
    const iso = (t: number): string | null => (Number.isFinite(t) ? new Date(t).toISOString() : null);
    return { ...r, perLevel, perFormat, firstTime: iso(this.first), lastTime: iso(this.last) };
  }
}
