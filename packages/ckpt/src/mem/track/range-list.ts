/**
 * Sorted, disjoint lists of address ranges: subtraction and intersection, for the trackers' bookkeeping.
 *
 * @example
 * subtractRanges([{ start: 0, end: 100 }], [{ start: 10, end: 20 }]); // [{0,10}, {20,100}]
 */
import type { AddressRange } from './tracker.js';

/** Sort by start and merge overlapping or adjacent ranges (a list already ascending is not sorted again). */
export function normalizeRanges(list: readonly AddressRange[]): AddressRange[] {
  let ascending = true;
  for (let i = 1; i < list.length && ascending; i++) ascending = list[i - 1]!.start <= list[i]!.start;
  const s = ascending ? list : [...list].sort((a, b) => a.start - b.start);
  const out: { start: number; end: number }[] = [];
  for (const r of s) {
    if (r.end <= r.start) continue;
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/**
 * The union of two lists, each ascending and disjoint, in one merge (no sort): overlapping or adjacent
 * ranges joined.
 */
export function unionRanges(a: readonly AddressRange[], b: readonly AddressRange[]): AddressRange[] {
  const out: { start: number; end: number }[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const r = j >= b.length || (i < a.length && a[i]!.start <= b[j]!.start) ? a[i++]! : b[j++]!;
    if (r.end <= r.start) continue;
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** The parts of `a` not covered by `b` (one sweep over both, once sorted: linear in their sizes). */
export function subtractRanges(a: readonly AddressRange[], b: readonly AddressRange[]): AddressRange[] {
  const holes = normalizeRanges(b);
  const out: AddressRange[] = [];
  let j = 0;
  for (const r of normalizeRanges(a)) {
    while (j < holes.length && holes[j]!.end <= r.start) j++;
    let from = r.start;
    for (let k = j; k < holes.length && holes[k]!.start < r.end; k++) {
      const h = holes[k]!;
      if (h.start > from) out.push({ start: from, end: h.start });
      from = Math.max(from, h.end);
    }
    if (from < r.end) out.push({ start: from, end: r.end });
  }
  return out;
}

/** The parts of `a` also covered by `b` (one sweep, as subtractRanges). */
export function intersectRanges(a: readonly AddressRange[], b: readonly AddressRange[]): AddressRange[] {
  const bb = normalizeRanges(b);
  const out: AddressRange[] = [];
  let j = 0;
  for (const r of normalizeRanges(a)) {
    while (j < bb.length && bb[j]!.end <= r.start) j++;
    for (let k = j; k < bb.length && bb[k]!.start < r.end; k++) {
      const x = bb[k]!;
      const s = Math.max(r.start, x.start);
      const e = Math.min(r.end, x.end);
      if (s < e) out.push({ start: s, end: e });
    }
  }
  return out;
}

/** Total bytes of a list of ranges. */
export function rangeBytes(list: readonly AddressRange[]): number {
  let n = 0;
  for (const r of list) n += r.end - r.start;
  return n;
}
