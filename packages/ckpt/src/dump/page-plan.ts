/**
 * Which pages of one process an iteration writes as data and which as PE_PARENT holes, and writing them
 * out in pagemap order. Reusable by any page source (read mode here, splice mode elsewhere):
 *
 * ```
 * present (findPages, taken AFTER collect)   ----------[=====]------[==========]----------
 * known   (tracked ranges with a history)     ====================]      [================
 * written (collect, since the previous one)   -------------[=]------------------[==]-------
 *
 * data  = present - known            (new VMAs, untracked ranges: nothing to compare with)
 *       + present & known & written  (changed since the parent)
 *       + present & known & !written & not covered by the parent chain
 * holes = present & known & !written & covered by the parent chain (PageChain.covers)
 * ```
 * A page that is not present now gets no entry at all, neither data nor hole: restore leaves it
 * unpopulated, which reads as zeroes (anonymous) or as the file (private file mapping), exactly what the
 * process sees now. That is how MADV_DONTNEED'd pages (and pages of a VMA replaced in place) are kept from
 * resurrecting their old content from the parent. Taking the present pages after collect() makes a page
 * dropped in between disappear too; a page faulted in after collect() is reported by the next collect.
 *
 * @example
 * const plan = planPages({ present: found.ranges, known: tracker.ranges(), written, parent: chain });
 * await sink.begin(pid);
 * await writePlannedPages(reader, sink, plan, { pid });
 * await sink.end();
 */
import type { PageChain } from '../images/index.js';
import {
  type AddressRange,
  type BufferLender,
  PageRanges,
  type PageReader,
  type ReadOptions,
  type ReadStats,
} from '../mem/index.js';
import { PAGE_SIZE } from '../sys/index.js';
import type { PageSink } from '../xfer/index.js';

/** Inputs of planPages; every list ascending and disjoint (as PageRanges or tracker ranges are). */
export interface PagePlanInput {
  /** Pages present now (taken after collect()). */
  readonly present: PageRanges;
  /** Ranges whose earlier content the parent chain holds and whose writes the tracker reports. */
  readonly known: readonly AddressRange[];
  /** Ranges reported written since the parent (present or not). */
  readonly written: readonly AddressRange[];
  /** The parent chain of this process, or undefined for a full dump. */
  readonly parent?: PageChain;
  /**
   * Instead of `parent`, when the parent's pages are elsewhere (a page server): the ranges the parent
   * chain holds for this process, ascending and disjoint (sent-pages.ts keeps them).
   */
  readonly covered?: readonly AddressRange[];
}

/** What planPages decided: data to read, holes to write (both ascending). */
export interface PagePlan {
  readonly data: PageRanges;
  readonly holes: PageRanges;
}

/** Ranges as [starts, ends] sweeps: a - b and a & b, both linear in the list sizes. */
function sweep(
  a: { starts: readonly number[]; ends: readonly number[] },
  b: readonly AddressRange[],
  onInside: (s: number, e: number) => void,
  onOutside: (s: number, e: number) => void,
): void {
  let j = 0;
  for (let i = 0; i < a.starts.length; i++) {
    let pos = a.starts[i]!;
    const end = a.ends[i]!;
    while (j < b.length && b[j]!.end <= pos) j++;
    let k = j;
    while (pos < end) {
      const r = b[k];
      if (r === undefined || r.start >= end) {
        onOutside(pos, end);
        break;
      }
      if (r.start > pos) {
        onOutside(pos, r.start);
        pos = r.start;
      }
      const stop = Math.min(end, r.end);
      if (stop > pos) onInside(pos, stop);
      pos = stop;
      if (r.end <= end) k++;
    }
  }
}

/**
 * The parts of `ranges` whose data the chain holds, ascending and merged: one locate() per range (the
 * known present ranges are few and long), not one per candidate hole.
 */
function coveredBy(chain: PageChain | undefined, ranges: PageRanges): AddressRange[] {
  const out: { start: number; end: number }[] = [];
  if (!chain) return out;
  for (let i = 0; i < ranges.length; i++) {
    const s = ranges.starts[i]!;
    for (const loc of chain.locate(s, (ranges.ends[i]! - s) / PAGE_SIZE)) {
      if (loc.where !== 'data') continue;
      const end = loc.vaddr + loc.nrPages * PAGE_SIZE;
      const last = out[out.length - 1];
      if (last && last.end === loc.vaddr) last.end = end;
      else out.push({ start: loc.vaddr, end });
    }
  }
  return out;
}

/** Split present pages into data and holes (see the module comment). Linear in the ranges. */
export function planPages(input: PagePlanInput): PagePlan {
  // data comes from three sweeps, each ascending and disjoint from the others: merged, not sorted
  const fresh = new PageRanges();
  const known = new PageRanges();
  sweep(input.present, input.known, (s, e) => known.push(s, e), (s, e) => fresh.push(s, e));
  const changed = new PageRanges();
  const unwritten = new PageRanges();
  sweep(known, input.written, (s, e) => changed.push(s, e), (s, e) => unwritten.push(s, e));
  const holes = new PageRanges();
  const uncovered = new PageRanges();
  const covered = input.covered ?? coveredBy(input.parent, known);
  sweep(unwritten, covered, (s, e) => holes.push(s, e), (s, e) => uncovered.push(s, e));
  return { data: mergeRanges(mergeRanges(fresh, changed), uncovered), holes };
}

/** Two ascending, disjoint PageRanges as one (adjacent ranges joined). */
function mergeRanges(a: PageRanges, b: PageRanges): PageRanges {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out = new PageRanges();
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a.starts[i]! < b.starts[j]!)) {
      out.push(a.starts[i]!, a.ends[i]!);
      i++;
    } else {
      out.push(b.starts[j]!, b.ends[j]!);
      j++;
    }
  }
  return out;
}

/**
 * The same pages with every hole turned into data: for a receiver whose parent lacks this process (a
 * page server answering OPEN2 with has_parent 0), where a PE_PARENT entry would be refused. Reading a
 * page is always correct; only its cost differs.
 *
 * @example
 * if (sink.hasParent === false) plan = holesAsData(plan);
 */
export function holesAsData(plan: PagePlan): PagePlan {
  if (plan.holes.length === 0) return plan;
  return { data: mergeRanges(plan.data, plan.holes), holes: new PageRanges() };
}

/** ReadStats plus the holes written. */
export interface WriteStats extends ReadStats {
  holePages: number;
}

/**
 * Read `plan.data` with `reader` into the sink and interleave `plan.holes` in ascending vaddr order, as a
 * pagemap requires. The caller does sink.begin()/end().
 *
 * @example
 * const st = await writePlannedPages(reader, sink, plan, { pid });
 */
export async function writePlannedPages(
  reader: PageReader,
  sink: PageSink,
  plan: PagePlan,
  o: ReadOptions = {},
): Promise<WriteStats> {
  const { starts, ends } = plan.holes;
  let h = 0;
  let holePages = 0;
  const holesBefore = (va: number) => {
    while (h < starts.length && starts[h]! < va) {
      const n = (ends[h]! - starts[h]!) / PAGE_SIZE;
      sink.addHole(starts[h]!, n);
      holePages += n;
      h++;
    }
  };
  const lender = (sink as Partial<BufferLender>).nextBuffer ? (sink as PageSink & BufferLender) : undefined;
  const st = await reader.read(
    plan.data,
    {
      // a sink that holds the pages (dump/HeldPages) lends the memory to read them into
      nextBuffer: lender ? () => lender.nextBuffer() : undefined,
      pages: (va, n, bytes) => {
        holesBefore(va);
        sink.addPages(va, n, bytes);
      },
      flush: () => sink.flush(),
    },
    o,
  );
  holesBefore(Number.POSITIVE_INFINITY);
  return { ...st, holePages };
}
