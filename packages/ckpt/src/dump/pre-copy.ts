/**
 * The pre-copy passes (QEMU's pre-copy; issue 12's optional item): right before the chain's last freeze,
 * with the targets running, collect what was written since the parent (re-arming write-protection), copy
 * those pages into memory, and repeat while the delta shrinks; the frozen window then collects and copies
 * only what was written since the last pass, and the pages held from the passes join the image set after
 * the thaw (dump/held-pages.ts merges them into each process's pagemap, in address order).
 *
 * ```
 * pass k (running)   collect W_k (re-arms; its one walk also says which are present) -> plan D_k: the
 *                    written and present pages (tracking.ts `pass`) -> held := held - (W_k + D_k); copy
 *                    D_k into chunks (huge pages); extra += W_k + D_k (every range a pass collected or
 *                    copied: written since the parent, and their report is consumed)
 * seal (running)     after each pass: extra - held (the held pages: held-page-index.ts, one entry a page)
 * freeze (window)    collect W_f (last), present, known -> read R = windowRead(...) (see there)
 * after the thaw     plan D, H with written = W_f + extra; items(): D - R from the held runs (every page
 *                    of it held and not in W_f, checked), H as holes; merged with R in address order
 * ```
 * A held page is valid at the freeze exactly when nothing was written to it since the pass that copied
 * it: that pass read it after its collect re-armed it, so a later write is in a later W (and a page
 * written again and still present is copied again by that pass: its new copy replaces the old one). A
 * page dropped since (MADV_DONTNEED) is not present at the freeze, so not in D: its held copy is unused.
 *
 * Only processes tracked incrementally and still the program the parent recorded take part (a new
 * child, a changed program, a fallback to a full dump are planned at the freeze as without passes).
 * Memory: the passes' chunks are bounded by the hold's cap (as the window's copy is: at most twice the cap
 * in all); a pass that reaches it keeps what it holds and the passes stop (`reason`): what is not held
 * is read in the window, as without passes (it is in `extra`: the images stay right).
 *
 * The window's work does not grow with what the passes hold: seal() indexes it before the freeze, and
 * windowRead() computes what to read from the window's collect and the passes' leftovers only; the full
 * plan (every pass's writes as written: holes and the held pages' places) is made after the thaw
 * (items(), through the hold's replay: held-pages.ts).
 *
 * @example
 * const pc = new PreCopy({ cap: 256 << 20, chunk: 4 << 20, log });
 * await pc.pass(ctx); await pc.pass(ctx);                      // running (each pass seals)
 * const v = pc.view(pid, identity);                             // frozen: planTask({ precopied: v })
 * const items = pc.items(pid, fullPlan, read, written);         // after the thaw: the rest of the pagemap
 */

import type { ImageDir } from '../images/index.js';
import {
  type AddressRange,
  intersectRanges,
  PageRanges,
  PageReader,
  type PagesMethod,
  planVmas,
  subtractRanges,
  unionRanges,
} from '../mem/index.js';
import { hasExited, type ProcessIdentity, readIdentity, readMaps, sameProgram } from '../proc/index.js';
import { AlignedBuffer, PAGE_SIZE } from '../sys/index.js';
import { HeldPageIndex } from './held-page-index.js';
import type { PagePlan } from './page-plan.js';
import type { SentPages } from './sent-pages.js';
import type { PrecopyView, TrackingSession } from './tracking.js';

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
  /** The pages held (one entry a page: held-page-index.ts). */
  readonly held: HeldPageIndex;
  /** After seal(): `extra` minus what is held (pages a pass planned and could not hold). */
  extraNotHeld?: AddressRange[];
}

/** An entry of a process's pagemap the replay adds: held pages (`bytes`), or a PE_PARENT hole (none). */
export interface PlannedItem {
  readonly va: number;
  readonly n: number;
  readonly bytes?: Uint8Array;
}

const toRanges = (p: PageRanges): AddressRange[] => p.starts.map((start, i) => ({ start, end: p.ends[i]! }));

function toPageRanges(list: readonly AddressRange[]): PageRanges {
  const p = new PageRanges();
  for (const r of list) p.push(r.start, r.end);
  return p;
}

/**
 * THE FROZEN WINDOW: what to read now. A page of the final plan (written = the window's collect + every
 * pass's) that is not held and valid must be read; the plan's data is present & (not known | written |
 * extra | not covered), so reading present & (not known | written | (extra | known - covered) - held) is
 * enough (a held page that was written again is in `written`). Work: the window's collect, the present
 * and known ranges, the chain's uncovered known ranges; not what the passes hold.
 */
function windowRead(
  e: Entry,
  present: PageRanges,
  known: readonly AddressRange[],
  written: readonly AddressRange[],
  covered: readonly AddressRange[],
): PageRanges {
  const p = toRanges(present);
  const uncovered = e.held.minus(subtractRanges(known, covered));
  const want = unionRanges(unionRanges(written, e.extraNotHeld ?? []), uncovered);
  return toPageRanges(unionRanges(subtractRanges(p, known), intersectRanges(p, want)));
}

export class PreCopy {
  private readonly entries = new Map<number, Entry>();
  private readonly passes: PassFigures[] = [];
  private readonly reader: PageReader;
  private held = 0;
  /** The chunks lent to the reader (their index is HeldPageIndex's `chunk`). */
  private readonly chunks: Uint8Array[] = [];
  private full: string | undefined;

  /** `cap`: bytes of chunks the passes may hold; `chunk`: bytes of one. */
  constructor(private readonly o: { readonly cap: number; readonly chunk: number }) {
    this.reader = new PageReader(0, { bufferSize: o.chunk, buffers: 1 });
  }

  /** Page bytes held now. */
  get heldBytes(): number {
    return this.held;
  }

  /** Why the passes must stop (their share of the cap is used), if they must. */
  get reason(): string | undefined {
    return this.full;
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
    const todo: { pid: number; e: Entry; read: PageRanges; drop: AddressRange[] }[] = [];
    for (const pid of c.pids) {
      const known = c.known.get(pid);
      let identity: ProcessIdentity;
      let tp: ReturnType<TrackingSession['planTask']> | undefined;
      try {
        identity = readIdentity(pid);
        if (!known || !sameProgram(known, identity)) continue;
        const maps = readMaps(pid);
        // after the first pass: plan as the window does (what is written or not held), not the whole delta
        tp = c.session.planTask(pid, {
          maps,
          plan: planVmas(maps),
          parent: c.parent,
          covered: c.covered ? (c.covered.get(pid) ?? []) : undefined,
          pagesMethod: c.pagesMethod,
          alsoWritten: this.entries.get(pid)?.extra,
          precopied: this.view(pid, identity),
          pass: true,
        });
      } catch (e) {
        // a collect that ran consumed its report: only a process that is gone may be passed over (the
        // freeze leaves it out, or fails on the root); anything else fails the dump, never its images
        if (hasExited(pid)) continue;
        throw e;
      }
      if (!tp?.written) continue;
      let e = this.entries.get(pid);
      if (!e) {
        e = { identity, extra: [], held: new HeldPageIndex() };
        this.entries.set(pid, e);
      }
      written += tp.tracking.pagesWritten;
      // what was written since is not valid any more, what is read now replaces what was held
      const read = toRanges(tp.pages.data);
      const drop = unionRanges(tp.written, read);
      e.extra = unionRanges(e.extra, drop);
      todo.push({ pid, e, read: tp.pages.data, drop });
    }
    const t1 = performance.now();
    let copied = 0;
    for (const { pid, e, read, drop } of todo) {
      const add = e.held.adder();
      let lent: Uint8Array | undefined;
      let left = read.pages * PAGE_SIZE;
      // past the cap, what is not held is read in the window (it is in extra)
      if (!this.full)
        try {
          const st = await this.reader.read(
            read,
            {
              nextBuffer: () => {
                const b = left > 0 ? this.lend(Math.min(this.o.chunk, left)) : undefined;
                left -= b?.size ?? 0;
                lent = b?.bytes;
                return b;
              },
              // past the cap the reader reads into its own buffer: nothing of it is kept
              pages: (va, n, bytes) => {
                if (lent !== undefined && bytes.buffer === lent.buffer) {
                  add(va, n, this.chunks.length - 1, (bytes.byteOffset - lent.byteOffset) / PAGE_SIZE);
                }
              },
              flush: () => {},
            },
            { pid },
          );
          copied += st.pagesRead;
        } catch {
          // gone or unreadable: what was read is kept, the rest is read in the window
        }
      e.held.update(drop, add.done());
    }
    this.seal(); // the next pass (or the window) plans against what is held now
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

  /**
   * A chunk of `size` bytes to read into (what is left of the read, at most one chunk: a small pass
   * allocates little, and V8 counts each chunk as external memory it collects for), or undefined past
   * the cap (then the passes stop).
   */
  private lend(size: number): AlignedBuffer | undefined {
    if (this.full) return undefined;
    if (this.held + size > this.o.cap) {
      this.full = `the pre-copy reached the hold cap (${this.o.cap} bytes)`;
      return undefined;
    }
    this.held += size;
    const b = new AlignedBuffer(size, PAGE_SIZE, false, { huge: true }); // huge pages: faults 512x fewer
    this.chunks.push(new Uint8Array(b.bytes.buffer, b.bytes.byteOffset, b.size));
    return b;
  }

  /**
   * After each pass: `extra` minus the held pages for the next pass and the window, so that their
   * planning grows with what was written since the last pass, not with what the passes hold.
   */
  seal(): void {
    for (const e of this.entries.values()) e.extraNotHeld = e.held.minus(e.extra);
  }

  /** The window's view of `pid`'s passes, when they hold it (and it is still the program they copied). */
  view(pid: number, identity: ProcessIdentity): PrecopyView | undefined {
    const e = this.entries.get(pid);
    if (!e?.extraNotHeld || !sameProgram(e.identity, identity)) return undefined;
    return { pid, extra: e.extra, windowRead: (p, k, w, c) => windowRead(e, p, k, w, c) };
  }

  /**
   * After the thaw (or in the window if the hold spills): `pid`'s pagemap entries besides the window's
   * read `read` (ascending): the held pages of `full.data` not read in the window, and `full.holes`.
   * `full` is the plan with every pass's writes (`extra`) and the window's (`written`). Every data page
   * must be read or held and still valid: a page that is neither is a bug (thrown).
   */
  items(pid: number, full: PagePlan, read: PageRanges, written: readonly AddressRange[]): PlannedItem[] {
    const e = this.entries.get(pid);
    const need = subtractRanges(toRanges(full.data), toRanges(read));
    const use = e ? e.held.views(need, written, this.chunks) : [];
    let needPages = 0;
    for (const r of need) needPages += (r.end - r.start) / PAGE_SIZE;
    let usePages = 0;
    for (const r of use) usePages += r.n;
    if (usePages !== needPages) {
      throw new Error(
        `pre-copy: process ${pid}: ${needPages - usePages} pages of the plan were neither held nor read in the window`,
      );
    }
    const out: PlannedItem[] = [];
    const h = full.holes;
    let j = 0;
    for (const r of use) {
      while (j < h.length && h.starts[j]! < r.va) {
        out.push({ va: h.starts[j]!, n: (h.ends[j]! - h.starts[j]!) / PAGE_SIZE });
        j++;
      }
      out.push(r);
    }
    for (; j < h.length; j++) out.push({ va: h.starts[j]!, n: (h.ends[j]! - h.starts[j]!) / PAGE_SIZE });
    return out;
  }

  /** Drop what is held (after the image set is written, or on failure). Safe twice. */
  close(): void {
    this.entries.clear();
    this.chunks.length = 0;
    this.held = 0;
    this.reader.close();
  }
}
