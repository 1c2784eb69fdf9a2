/**
 * Human units for the figures of a run: binary byte sizes (KiB, MiB, GiB), durations (µs, ms, s),
 * grouped counts and rates. Three significant digits, trailing zeros dropped.
 *
 * @example
 * formatBytes(1073741824); // '1 GiB'
 * formatMs(0.4);           // '400 µs'
 * formatCount(262144);     // '262,144'
 */

/** What a figure that cannot be computed (a ratio to almost nothing) prints as. */
export const NOT_A_FIGURE = '—';

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `x` with three significant digits (no exponent, no trailing zeros). */
function sig3(x: number): string {
  return String(Number(x.toPrecision(3)));
}

/**
 * A size in bytes with the largest binary unit that keeps the number at least 1.
 *
 * @example
 * formatBytes(1536); // '1.5 KiB'
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return NOT_A_FIGURE;
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < BYTE_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // 1023.9 KiB rounds to "1020 KiB"; 1023.99 MiB to "1020 MiB": never "1024 KiB".
  return u === 0 ? `${Math.round(v)} B` : `${sig3(v)} ${BYTE_UNITS[u]}`;
}

/**
 * A duration given in milliseconds, as µs below 1 ms, ms below 1 s, s above.
 *
 * @example
 * formatMs(812.3); // '812 ms'
 * formatMs(1500);  // '1.5 s'
 */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return NOT_A_FIGURE;
  if (ms === 0) return '0 ms';
  if (Number(ms.toPrecision(3)) < 1) return `${sig3(ms * 1000)} µs`;
  if (Number(ms.toPrecision(3)) < 1000) return `${sig3(ms)} ms`;
  return `${sig3(ms / 1000)} s`;
}

/**
 * A count with thousands separators; fractions keep up to two decimals.
 *
 * @example
 * formatCount(1234567); // '1,234,567'
 */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return NOT_A_FIGURE;
  return n.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

/**
 * A count short enough for a chart label: grouped below 10,000, then k, M, G with three digits.
 *
 * @example
 * formatCompact(262144); // '262k'
 */
export function formatCompact(n: number): string {
  if (n < 10_000) return formatCount(n);
  if (n < 999_500) return `${sig3(n / 1e3)}k`;
  if (n < 999_500_000) return `${sig3(n / 1e6)}M`;
  return `${sig3(n / 1e9)}G`;
}

/**
 * A rate in bytes per second.
 *
 * @example
 * formatRate(1.2e9); // '1.12 GiB/s'
 */
export function formatRate(bytesPerSec: number): string {
  return `${formatBytes(bytesPerSec)}/s`;
}

/** What a figure measures, which decides how it is written. */
export type Quantity = 'bytes' | 'ms' | 'count';

/**
 * A figure in human units.
 *
 * @example
 * human('bytes', 1536); // '1.5 KiB'
 */
export function human(q: Quantity, v: number): string {
  if (q === 'bytes') return formatBytes(v);
  if (q === 'ms') return formatMs(v);
  return formatCount(v);
}

/**
 * A figure written in full: bytes as a grouped byte count, durations in ms with up to four decimals.
 *
 * @example
 * exact('bytes', 1073741824); // '1,073,741,824 B'
 * exact('ms', 0.4);           // '0.4 ms'
 */
export function exact(q: Quantity, v: number): string {
  if (q === 'bytes') return `${formatCount(Math.round(v))} B`;
  if (q === 'ms') return `${v.toLocaleString('en-US', { maximumFractionDigits: 4 })} ms`;
  return formatCount(v);
}

/**
 * How many times bigger `a` is than `b`, e.g. for "splice ÷ read"; an em dash when `b` is 0.
 *
 * @example
 * formatRatio(180, 0.4); // '450×'
 */
export function formatRatio(a: number, b: number): string {
  if (b === 0) return a === 0 ? '1×' : NOT_A_FIGURE;
  const r = a / b;
  if (!Number.isFinite(r)) return NOT_A_FIGURE;
  return `${r >= 1000 ? formatCount(Math.round(r)) : sig3(r)}×`;
}
