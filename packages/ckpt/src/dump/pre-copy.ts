/**
 * The pre-copy passes (QEMU's pre-copy; issue 12's optional item): right before the chain's last freeze,
 * with the targets running, collect what was written since the parent (re-arming write-protection), copy
 * those pages into memory, and repeat while the delta shrinks; the frozen window then collects and copies
 * only what was written since the last pass, and the pages held from the passes join the image set after
 * the thaw (dump/held-pages.ts merges them into each process's pagemap, in address order).
 *
 * ```
 * pass k (running)   collect W_k (re-arms)  -> plan D_k with written = W_k + extra (every range a
 *                    pass collected or copied: they were written since the parent, and their report is
 *                    consumed) -> held := held - W_k; copy D_k - held into chunks; extra += W_k + copied
 * freeze (take)      collect W_f (last)     -> plan D with written = W_f + extra
 *                    from the passes: D & (held - W_f)       read in the window: the rest of D
 * after the thaw     per process: the window's pages and the held runs, merged in address order
 * ```
 * A held page is valid at the freeze exactly when nothing was written to it since the pass that copied
 * it: that pass read it after its collect re-armed it, so a later write is in a later W (and a page
 * written again and still present is copied again by that pass: its new copy replaces the old one). A
 * page dropped since (MADV_DONTNEED) is reported written too, and is not in D if not present at the
 * freeze: its held copy is not used.
 *
 * Only processes tracked incrementally and still the program the parent recorded take part (a new
 * child, a changed program, a fallback to a full dump are planned at the freeze as without passes).
 * Memory: the held runs count against the hold's cap; a pass that would pass it drops every held run
 * (`reason`) and the frozen window copies the whole delta, as without passes (the written ranges
 * collected stay in `extra`: the images stay right).
 *
 * @example
 * const pc = new PreCopy({ cap: 256 << 20, chunk: 4 << 20, log });
 * await pc.pass(ctx); await pc.pass(ctx);     // running
 * const { pages, runs } = pc.take(task);        // frozen: what to read now, what is held
 */

import type { ImageDir } from '../images/index.js';
import {
  type AddressRange,
  normalizeRanges,
  PageRanges,
  PageReader,
  type PagesMethod,
  planVmas,
  subtractRanges,
} from '../mem/index.js';
import { type ProcessIdentity, readIdentity, readMaps, sameProgram } from '../proc/index.js';
import { AlignedBuffer, PAGE_SIZE } from '../sys/index.js';
import type { PagePlan } from './page-plan.js';
import type { SentPages } from './sent-pages.js';
import type { TaskScan } from './task-scan.js';
import type { TrackingSession } from './tracking.js';

/** Pages held from a pass: `n` pages at `va`, their bytes a view of a held chunk. */
export interface HeldRun {
  readonly va: number;
  readonly n: number;
  readonly bytes: Uint8Array;
}

/** One pass, for `--json` (`preCopy.passes`). */
export interface PassFigures {
  /** Pages the pass's collect reported written (every process). */
  readonly written: number;
  /** Pages it copied into memory. */
  readonly copied: number;
  /** Page bytes held after it. */
  readonly heldBytes: number;
  /** µs of the pass: collect + plan, and the copy. */
  readonly collectMicros: number;
  readonly copyMicros: number;
}

/** What a pass needs of the dump (DumpPipeline holds it). */
export interface PassContext {
  readonly pids: readonly number[];
  readonly session: TrackingSession;
  readonly parent?: ImageDir;
  /** The parent chain's coverage per process (indexed before). */
  readonly covered?: SentPages;
  /** The parent's record of each pid. */
  readonly known: ReadonlyMap<number, ProcessIdentity>;
  readonly pagesMethod?: PagesMethod;
}

interface Entry {
  readonly identity: ProcessIdentity;
  /** Every range a pass collected as written or copied, ascending. */
  extra: AddressRange[];
  /** Held pages, ascending, disjoint. */
  runs: HeldRun[];
}

const toRanges = (p: PageRanges): AddressRange[] => p.starts.map((start, i) => ({ start, end: p.ends[i]! }));

function toPageRanges(list: readonly AddressRange[]): PageRanges {
  const p = new PageRanges();
  for (const r of list) p.push(r.start, r.end);
  return p;
}

/** The ranges the runs hold, ascending (adjacent runs joined). */
function runRanges(runs: readonly HeldRun[]): AddressRange[] {
  const out: { start: number; end: number }[] = [];
  for (const r of runs) {
    const end = r.va + r.n * PAGE_SIZE;
    const last = out[out.length - 1];
    if (last && last.end === r.va) last.end = end;
    else out.push({ start: r.va, end });
  }
  return out;
}

/**
 * The parts of `runs` inside (`keep` true) or outside `ranges` (ascending, disjoint): views of the same
 * bytes. One sweep over both.
 */
export function cutRuns(runs: readonly HeldRun[], ranges: readonly AddressRange[], keep: boolean): HeldRun[] {
  const out: HeldRun[] = [];
  const piece = (r: HeldRun, s: number, e: number) => {
    if (e <= s) return;
    const off = s - r.va;
    out.push({ va: s, n: (e - s) / PAGE_SIZE, bytes: r.bytes.subarray(off, off + (e - s)) });
  };
  let j = 0;
  for (const r of runs) {
    const end = r.va + r.n * PAGE_SIZE;
    while (j < ranges.length && ranges[j]!.end <= r.va) j++;
    let pos = r.va;
    for (let k = j; k < ranges.length && ranges[k]!.start < end; k++) {
      const x = ranges[k]!;
      const s = Math.max(pos, x.start);
      const e = Math.min(end, x.end);
      if (!keep) piece(r, pos, s);
      else piece(r, s, e);
      pos = e;
    }
    if (!keep) piece(r, pos, end);
  }
  return out;
}

/** Two ascending, disjoint run lists as one. */
function mergeRuns(a: readonly HeldRun[], b: readonly HeldRun[]): HeldRun[] {
  const out: HeldRun[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.va < b[j]!.va)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

export class PreCopy {
  private readonly entries = new Map<number, Entry>();
  private readonly passes: PassFigures[] = [];
  private readonly reader: PageReader;
  private held = 0;
  private dropped: string | undefined;

  constructor(private readonly o: { readonly cap: number; readonly chunk: number }) {
    this.reader = new PageReader(0, { bufferSize: o.chunk, buffers: 1 });
  }

  /** Page bytes held now. */
  get heldBytes(): number {
    return this.held;
  }

  /** Why the held runs were dropped (the cap), if they were. */
  get reason(): string | undefined {
    return this.dropped;
  }

  figures(): readonly PassFigures[] {
    return this.passes;
  }

  /** Ranges the passes collected or copied for `pid`: to plan as written at the freeze. */
  extra(pid: number): readonly AddressRange[] | undefined {
    return this.entries.get(pid)?.extra;
  }

  /** One pass over the running tree (see the module comment). Returns its figures. */
  async pass(c: PassContext): Promise<PassFigures> {
    const t0 = performance.now();
    let written = 0;
    const todo: { pid: number; e: Entry; read: PageRanges }[] = [];
    for (const pid of c.pids) {
      const known = c.known.get(pid);
      let identity: ProcessIdentity;
      let tp: ReturnType<TrackingSession['planTask']> | undefined;
      try {
        identity = readIdentity(pid);
        if (!known || !sameProgram(known, identity)) continue;
        const maps = readMaps(pid);
        tp = c.session.planTask(pid, {
          maps,
          plan: planVmas(maps),
          parent: c.parent,
          covered: c.covered ? (c.covered.get(pid) ?? []) : undefined,
          pagesMethod: c.pagesMethod,
          alsoWritten: this.entries.get(pid)?.extra,
          pass: true,
        });
      } catch {
        continue; // exited, or unreadable now: the freeze decides (the collect, if it ran, is in extra)
      }
      if (!tp?.written) continue;
      let e = this.entries.get(pid);
      if (!e) {
        e = { identity, extra: [], runs: [] };
        this.entries.set(pid, e);
      }
      written += tp.tracking.pagesWritten;
      e.runs = cutRuns(e.runs, tp.written, false);
      const read = subtractRanges(toRanges(tp.pages.data), runRanges(e.runs));
      e.extra = normalizeRanges([...e.extra, ...tp.written, ...read]);
      todo.push({ pid, e, read: toPageRanges(read) });
    }
    const t1 = performance.now();
    let copied = 0;
    for (const { pid, e, read } of todo) {
      if (this.dropped) break;
      const runs: HeldRun[] = [];
      try {
        const st = await this.reader.read(
          read,
          {
            nextBuffer: () => this.lend(),
            pages: (va, n, bytes) => {
              if (!this.dropped) runs.push({ va, n, bytes });
            },
            flush: () => {},
          },
          { pid },
        );
        copied += st.pagesRead;
      } catch {
        continue; // the pages not read stay out of the held runs: read in the window
      }
      e.runs = mergeRuns(e.runs, runs);
    }
    if (this.dropped) this.dropRuns();
    const f: PassFigures = {
      written,
      copied,
      heldBytes: this.held,
      collectMicros: Math.round((t1 - t0) * 1000),
      copyMicros: Math.round((performance.now() - t1) * 1000),
    };
    this.passes.push(f);
    return f;
  }

  /** A chunk to read into, or undefined past the cap (the runs are then dropped). */
  private lend(): AlignedBuffer | undefined {
    if (this.dropped) return undefined;
    if (this.held + this.o.chunk > this.o.cap) {
      this.dropped = `the pre-copy reached the hold cap (${this.o.cap} bytes)`;
      return undefined;
    }
    this.held += this.o.chunk;
    return new AlignedBuffer(this.o.chunk, PAGE_SIZE, false);
  }

  private dropRuns(): void {
    for (const e of this.entries.values()) e.runs = [];
    this.held = 0;
  }

  /**
   * THE FROZEN WINDOW: split `t`'s plan into what to read now and the held runs that stand for the rest.
   * `t` must have been planned with `extra(t.pid)` as alsoWritten. Nothing held (or `t` not the program
   * the passes copied, or not planned from a collect): `t.pages` as it is.
   */
  take(t: TaskScan): { readonly pages: PagePlan; readonly runs: readonly HeldRun[] } {
    const e = this.entries.get(t.pid);
    if (!e || e.runs.length === 0 || !t.written || t.changed || !sameProgram(e.identity, t.identity)) {
      return { pages: t.pages, runs: [] };
    }
    const data = toRanges(t.pages.data);
    const runs = cutRuns(cutRuns(e.runs, t.written, false), data, true);
    const read = toPageRanges(subtractRanges(data, runRanges(runs)));
    return { pages: { data: read, holes: t.pages.holes }, runs };
  }

  /** Drop what is held (after the image set is written, or on failure). Safe twice. */
  close(): void {
    this.entries.clear();
    this.held = 0;
    this.reader.close();
  }
}
