/**
 * Which pages a process still needs from an image chain, given what its memory holds already: all of a
 * freshly mapped range's data (dataRuns), or, for a range that holds an older set's chain (a pre-built
 * process, prebuilt-process.ts), only what changed since (pageDelta).
 *
 * ```
 * the new set's pagemap (its parent: the old set), over [start, end) ->
 *   data                          newer than what the memory holds: fill
 *   PE_PARENT                     the memory holds it already (the old set's chain resolves to it too)
 *   PE_LAZY (held)                written into the memory as it arrived (a migration's destination): held
 *   absent                        data (or held) in the old chain? the page went since: drop it
 *                                 (MADV_DONTNEED: zero)
 * ```
 * dataRuns refuses a 'held' run (ImageError HELD): a freshly mapped range cannot get pages that only a
 * pre-built process holds.
 * Pure: the caller maps, fills (page-fill.ts, page-fill-pread.ts) and madvises.
 *
 * @example
 * const { fill, drop } = pageDelta(finalChain, keptVmas, lastFilledChain);
 */
import { firstEndingAbove, ImageError, type PageChain, type PageLocation, PE } from '../images/index.js';
import { PAGE_SIZE } from '../sys/index.js';

/** madvise advice that zeroes private anonymous pages (the `drop` ranges). */
export const MADV_DONTNEED = 4;

/** A run of pages with data in one pages file. */
export type DataRun = Extract<PageLocation, { where: 'data' }>;

/** An address range [start, end) (a VMA's, as numbers or the image's bigints). */
export interface AddressRange {
  readonly start: number | bigint;
  readonly end: number | bigint;
}

export interface PageDelta {
  /** Runs to write into the process. */
  readonly fill: DataRun[];
  /** [start, length] ranges to zero (MADV_DONTNEED on private anonymous memory). */
  readonly drop: [number, number][];
}

const located = (chain: PageChain, r: AddressRange) =>
  chain.locate(Number(r.start), Number(BigInt(r.end) - BigInt(r.start)) / PAGE_SIZE);

/** Every data run of `ranges` along `chain` (what a freshly mapped range needs). */
export function dataRuns(chain: PageChain, ranges: Iterable<AddressRange>): DataRun[] {
  const out: DataRun[] = [];
  for (const r of ranges)
    for (const loc of located(chain, r)) {
      if (loc.where === 'data') out.push(loc);
      else if (loc.where === 'held') throw heldError(loc);
    }
  return out;
}

/** Pages a fill needs that only a pre-built process holds (see the module comment). */
export function heldError(loc: { vaddr: number; nrPages: number; dir: string }): ImageError {
  return new ImageError(
    'HELD',
    `${loc.dir}: ${loc.nrPages} pages at 0x${loc.vaddr.toString(16)} went into the process built ahead (PE_LAZY), not into the images`,
  );
}

/**
 * What `ranges`, holding the chain of `old` (the parent set's), need to hold `chain`'s (see the module
 * comment). Walks the top pagemap's entries only: a PE_PARENT range is held already and is not followed
 * down the chain (a 4 GiB process's final delta: 300k entries, 8 sets deep).
 */
export function pageDelta(chain: PageChain, ranges: Iterable<AddressRange>, old: PageChain): PageDelta {
  const fill: DataRun[] = [];
  const drop: [number, number][] = [];
  const top = chain.ranges;
  const gone = (from: number, to: number) => {
    for (const was of old.locate(from, (to - from) / PAGE_SIZE))
      if (was.where === 'data' || was.where === 'held') drop.push([was.vaddr, was.nrPages * PAGE_SIZE]);
  };
  const sorted = top.every(
    (r, i) => i === 0 || r.vaddr >= top[i - 1]!.vaddr + top[i - 1]!.nrPages * PAGE_SIZE,
  );
  for (const r of ranges) {
    const start = Number(r.start);
    const end = Number(r.end);
    if (!sorted) {
      // not the order a dump writes: the general walk (depth 0 is the top set's own data)
      for (const loc of chain.locate(start, (end - start) / PAGE_SIZE))
        if (loc.where === 'data') {
          if (loc.depth === 0) fill.push(loc);
        } else if (loc.where === 'absent') gone(loc.vaddr, loc.vaddr + loc.nrPages * PAGE_SIZE);
      continue;
    }
    let pos = start;
    for (let i = firstEndingAbove(top, start); i < top.length && top[i]!.vaddr < end; i++) {
      const e = top[i]!;
      const from = Math.max(e.vaddr, start);
      const to = Math.min(e.vaddr + e.nrPages * PAGE_SIZE, end);
      if (from > pos) gone(pos, from);
      if (e.offset !== undefined) {
        for (const loc of chain.locate(from, (to - from) / PAGE_SIZE))
          if (loc.where === 'data') fill.push(loc);
      } else if ((e.flags & (PE.PARENT | PE.LAZY)) === 0) gone(from, to);
      pos = to;
    }
    if (pos < end) gone(pos, end);
  }
  return { fill, drop };
}
