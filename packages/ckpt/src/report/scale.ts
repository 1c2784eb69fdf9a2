/**
 * The value axis of a chart: linear from zero, or logarithmic when the positive values span a huge range
 * (the largest at least `LOG_RATIO` times the smallest). Maps a value to a fraction 0..1 of the axis and
 * picks tick values that read well: 1-2-5 steps in decimal, powers of two for bytes.
 *
 * On a log axis zero cannot be drawn to scale: when a value is zero, the axis gets a band below its
 * first decade (`ZERO_BAND`) whose floor is 0, with a tick of its own.
 *
 * @example
 * const s = chooseScale([0.4, 180], { binary: false }); // s.kind === 'log'
 * s.fraction(180); s.ticks; // [0.1, 1, 10, 100, 1000]
 */

/** A ratio between the largest and smallest positive value from which the axis is logarithmic. */
export const LOG_RATIO = 100;

/** An axis over the values of one chart. */
export interface Scale {
  readonly kind: 'linear' | 'log';
  /** Lowest and highest value on the axis. */
  readonly min: number;
  readonly max: number;
  /** Values at which to draw grid lines and labels, ascending. */
  readonly ticks: readonly number[];
  /** Position of `v` along the axis, 0 (bottom) to 1 (top), clamped. */
  fraction(v: number): number;
}

/** Options of `chooseScale`. */
export interface ScaleOptions {
  /** Byte values: ticks on powers of two (so they read 256 MiB, 512 MiB, 1 GiB). */
  binary?: boolean;
}

function niceStep(rough: number, binary: boolean): number {
  if (binary && rough >= 1) return 2 ** Math.ceil(Math.log2(rough));
  const p = 10 ** Math.floor(Math.log10(rough));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= rough) return m * p;
  return 10 * p;
}

function linear(max: number, binary: boolean): Scale {
  const top = max > 0 ? max : 1;
  let step = niceStep(top / 6, binary);
  // Binary steps of 2^k over a top just past a power of two give two ticks; halve for more.
  if (binary && top / step < 2.5 && step >= 2) step /= 2;
  const hi = Math.ceil(top / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; i * step <= hi + step * 1e-9; i++) ticks.push(i * step);
  return {
    kind: 'linear',
    min: 0,
    max: hi,
    ticks,
    fraction: (v) => Math.min(1, Math.max(0, v / hi)),
  };
}

/** Share of a log axis below its first decade, where zero values sit (the axis is broken there). */
export const ZERO_BAND = 0.1;

function log(lo: number, hi: number, binary: boolean, zero: boolean): Scale {
  const base = binary ? 2 : 10;
  const lg = binary ? Math.log2 : Math.log10;
  // One step below the smallest value, so its bar has a visible height.
  let kLo = Math.ceil(lg(lo) - 1e-9) - 1;
  let kHi = Math.ceil(lg(hi) - 1e-9);
  if (kHi <= kLo) kHi = kLo + 1;
  const strides = binary ? [1, 2, 5, 10, 20, 30] : [1, 2, 3, 4, 5, 10];
  const stride = strides.find((s) => (kHi - kLo) / s <= 6) ?? strides[strides.length - 1]!;
  kLo = Math.floor(kLo / stride) * stride;
  kHi = Math.ceil(kHi / stride) * stride;
  const ticks: number[] = [];
  if (zero) ticks.push(0);
  for (let k = kLo; k <= kHi; k += stride) ticks.push(base ** k);
  const a = kLo;
  const span = kHi - kLo;
  const floor = zero ? ZERO_BAND : 0;
  return {
    kind: 'log',
    min: zero ? 0 : base ** kLo,
    max: base ** kHi,
    ticks,
    fraction: (v) => (v <= 0 ? 0 : floor + (1 - floor) * Math.min(1, Math.max(0, (lg(v) - a) / span))),
  };
}

/**
 * Choose the axis for a set of values (all finite and >= 0).
 *
 * @example
 * chooseScale([1, 2, 3]).kind;         // 'linear'
 * chooseScale([3, 2051]).kind;         // 'log' (ratio >= 100)
 */
export function chooseScale(values: readonly number[], options: ScaleOptions = {}): Scale {
  const binary = options.binary ?? false;
  const positive = values.filter((v) => v > 0);
  const max = positive.length > 0 ? Math.max(...positive) : 0;
  const min = positive.length > 0 ? Math.min(...positive) : 0;
  if (min > 0 && max / min >= LOG_RATIO) return log(min, max, binary, positive.length < values.length);
  return linear(max, binary);
}
