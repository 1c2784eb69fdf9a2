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

/**
 * Split present pages into data and holes (see the module comment). One pass over the four lists, linear
 * in their lengths: it runs in the frozen window, where ~10k written ranges are common.
 */
export function planPages(input: PagePlanInput): PagePlan {
  const { present, known, written } = input;
  const covered = input.covered ?? coveredBy(input.parent, knownPresent(present, known));
  const data = new PageRanges();
  const holes = new PageRanges();
  let k = 0;
  let w = 0;
  let c = 0;
  for (let i = 0; i < present.length; i++) {
    let pos = present.starts[i]!;
    const end = present.ends[i]!;
    while (pos < end) {
      while (k < known.length && known[k]!.end <= pos) k++;
      while (w < written.length && written[w]!.end <= pos) w++;
      while (c < covered.length && covered[c]!.end <= pos) c++;
      const kr = known[k];
      const wr = written[w];
      const cr = covered[c];
      const inK = kr !== undefined && kr.start <= pos;
      const inW = wr !== undefined && wr.start <= pos;
      const inC = cr !== undefined && cr.start <= pos;
      let stop = end;
      if (kr !== undefined) stop = Math.min(stop, inK ? kr.end : kr.start);
      if (wr !== undefined) stop = Math.min(stop, inW ? wr.end : wr.start);
      if (cr !== undefined) stop = Math.min(stop, inC ? cr.end : cr.start);
      if (inK && !inW && inC) holes.push(pos, stop);
      else data.push(pos, stop);
      pos = stop;
    }
  }
  return { data, holes };
}

/** present & known: what coveredBy asks the chain about. */
function knownPresent(present: PageRanges, known: readonly AddressRange[]): PageRanges {
  const out = new PageRanges();
  sweep(
    present,
    known,
    (s, e) => out.push(s, e),
    () => {},
  );
  return out;
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

let plannerWarm = false;

/**
 * Run planPages on a made-up plan of a few thousand ranges, so that V8 has compiled it (and PageRanges)
 * before the freeze: run once, cold, the plan of ~10k written ranges costs ~10x its optimized time, and
 * the frozen window is where it runs. Before the freeze, when a plan with a parent is coming.
 *
 * @example
 * warmPlanner(); // in DumpPipeline.prepare
 */
export function warmPlanner(): void {
  if (plannerWarm) return; // once a process: what V8 compiled stays (a migration warms it after its first copy)
  plannerWarm = true;
  const base = 0x10000000;
  const span = 8192 * PAGE_SIZE;
  const present = new PageRanges();
  present.push(base, base + span);
  const written: AddressRange[] = [];
  for (let p = 0; p < 8192; p += 3)
    written.push({ start: base + p * PAGE_SIZE, end: base + (p + 1) * PAGE_SIZE });
  const all = [{ start: base, end: base + span }];
  for (let k = 0; k < 4; k++) holesAsData(planPages({ present, known: all, written, covered: all }));
}
