/**
 * Which pages a process still needs from an image chain, given what its memory holds already: all of a
 * freshly mapped range's data (dataRuns), or, for a range that holds an older set's chain (a pre-built
 * process, prebuilt-process.ts), only what changed since (pageDelta).
 *
 * ```
 * new chain (top = set n)       locate [start, end) ->
 *   data at depth < newerThan     newer than what the memory holds: fill
 *   data at depth >= newerThan    the memory holds it already (the old set's chain resolves to it too)
 *   absent                        data in the old chain? the page went since: drop it (MADV_DONTNEED: zero)
 * ```
 * `newerThan` is the old set's depth below the new top (1 when it is the parent). Pure: the caller maps,
 * fills (page-fill.ts, page-fill-pread.ts) and madvises.
 *
 * @example
 * const { fill, drop } = pageDelta(finalChain, keptVmas, 1, lastFilledChain);
 */
import type { PageChain, PageLocation } from '../images/index.js';
import { PAGE_SIZE } from '../sys/index.js';

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
  for (const r of ranges) for (const loc of located(chain, r)) if (loc.where === 'data') out.push(loc);
  return out;
}

/** What `ranges`, holding `old`'s chain, need to hold `chain`'s (see the module comment). */
export function pageDelta(
  chain: PageChain,
  ranges: Iterable<AddressRange>,
  newerThan: number,
  old: PageChain,
): PageDelta {
  const fill: DataRun[] = [];
  const drop: [number, number][] = [];
  for (const r of ranges)
    for (const loc of located(chain, r)) {
      if (loc.where === 'data') {
        if (loc.depth < newerThan) fill.push(loc);
        continue;
      }
      for (const was of old.locate(loc.vaddr, loc.nrPages))
        if (was.where === 'data') drop.push([was.vaddr, was.nrPages * PAGE_SIZE]);
    }
  return { fill, drop };
}
