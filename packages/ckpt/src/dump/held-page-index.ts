/**
 * The pages one process's pre-copy passes hold (pre-copy.ts), one entry a page in typed arrays: its
 * address, the chunk that holds its copy and the page's place in it. A pass's bookkeeping is two sweeps
 * over numbers (drop what was written or read again, merge in what was read), with no object per page or
 * per run: at 4 GiB the passes hold 30-60k pages, mostly single pages, and an object per run (a view of
 * its chunk each) made every pass re-create them all and the garbage collector walk them (~1.5 s of JS and
 * ~2 s of collection over four passes, more than the copies themselves).
 *
 * ```
 * pass k   adder() <- the reader's pieces (ascending): page va, chunk, page in the chunk
 *          update(drop = W_k + read_k, added): kept = held - drop; held = merge(kept, added)
 * window   minus(list): `list` without the held pages (binary search per range)
 * after    views(need, skip): the held pages inside `need` and not in `skip`, as runs of adjacent pages
 *          that are adjacent in one chunk too (a view of it each)
 * ```
 *
 * @example
 * const idx = new HeldPageIndex();
 * const add = idx.adder(); add(0x10000, 2, 0, 0);   // 2 pages at 0x10000, chunk 0, from its page 0
 * idx.update([], add.done());
 * idx.minus([{ start: 0x10000, end: 0x13000 }]);    // [{ start: 0x12000, end: 0x13000 }]
 */
import type { AddressRange } from '../mem/index.js';
import { PAGE_SIZE } from '../sys/index.js';

/** Pages held at `va[i]`: chunk `chunk[i]`, page `page[i]` of it; `length` entries, ascending. */
export interface HeldPageList {
  readonly va: Float64Array;
  readonly chunk: Int32Array;
  readonly page: Int32Array;
  readonly length: number;
}

/** Appends pages (ascending), then done(): the list. */
export interface PageAdder {
  (va: number, n: number, chunk: number, page: number): void;
  done(): HeldPageList;
}

const EMPTY: HeldPageList = {
  va: new Float64Array(0),
  chunk: new Int32Array(0),
  page: new Int32Array(0),
  length: 0,
};

/** A growable list of held pages. */
function builder(capacity: number) {
  let va = new Float64Array(Math.max(capacity, 16));
  let chunk = new Int32Array(va.length);
  let page = new Int32Array(va.length);
  let n = 0;
  const grow = (want: number) => {
    if (want <= va.length) return;
    const size = Math.max(want, va.length * 2);
    const v = new Float64Array(size);
    v.set(va.subarray(0, n));
    const c = new Int32Array(size);
    c.set(chunk.subarray(0, n));
    const p = new Int32Array(size);
    p.set(page.subarray(0, n));
    va = v;
    chunk = c;
    page = p;
  };
  return {
    push(a: number, k: number, c: number, p: number): void {
      grow(n + k);
      for (let i = 0; i < k; i++) {
        va[n] = a + i * PAGE_SIZE;
        chunk[n] = c;
        page[n] = p + i;
        n++;
      }
    },
    copy(from: HeldPageList, i: number): void {
      grow(n + 1);
      va[n] = from.va[i]!;
      chunk[n] = from.chunk[i]!;
      page[n] = from.page[i]!;
      n++;
    },
    done: (): HeldPageList => ({ va, chunk, page, length: n }),
  };
}

/** The first index of `l` whose page address is >= `a` (binary search). */
function lowerBound(l: HeldPageList, a: number): number {
  let lo = 0;
  let hi = l.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (l.va[mid]! < a) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class HeldPageIndex {
  private held: HeldPageList = EMPTY;

  /** Pages held. */
  get pages(): number {
    return this.held.length;
  }

  /** A list for one pass's pieces (page address, count, chunk, first page in the chunk; ascending). */
  adder(): PageAdder {
    const b = builder(1024);
    const add = (va: number, n: number, chunk: number, page: number) => b.push(va, n, chunk, page);
    return Object.assign(add, { done: b.done });
  }

  /**
   * After a pass: drop the held pages inside `drop` (ascending, disjoint: written since, or read again),
   * then merge in `added` (ascending, inside `drop` or new). Cost: the pages held plus the ranges dropped.
   */
  update(drop: readonly AddressRange[], added: HeldPageList): void {
    const old = this.held;
    const out = builder(old.length + added.length);
    let j = 0;
    let k = 0;
    for (let i = 0; i < old.length; i++) {
      const a = old.va[i]!;
      while (j < drop.length && drop[j]!.end <= a) j++;
      if (j < drop.length && drop[j]!.start <= a) continue;
      while (k < added.length && added.va[k]! < a) out.copy(added, k++);
      out.copy(old, i);
    }
    while (k < added.length) out.copy(added, k++);
    this.held = out.done();
  }

  /** `list` (ascending, disjoint) without the held pages: a binary search per range. */
  minus(list: readonly AddressRange[]): AddressRange[] {
    const h = this.held;
    const out: AddressRange[] = [];
    for (const r of list) {
      let pos = r.start;
      for (let i = lowerBound(h, r.start); i < h.length && h.va[i]! < r.end; i++) {
        const a = h.va[i]!;
        if (a > pos) out.push({ start: pos, end: a });
        pos = a + PAGE_SIZE;
      }
      if (pos < r.end) out.push({ start: pos, end: r.end });
    }
    return out;
  }

  /**
   * The held pages inside `need` and outside `skip` (both ascending, disjoint) as runs: adjacent pages
   * adjacent in one chunk make one run, `bytes` a view of `chunks[chunk]`.
   */
  views(
    need: readonly AddressRange[],
    skip: readonly AddressRange[],
    chunks: readonly Uint8Array[],
  ): { va: number; n: number; bytes: Uint8Array }[] {
    const h = this.held;
    const out: { va: number; n: number; bytes: Uint8Array }[] = [];
    let s = 0;
    let run: { va: number; n: number; chunk: number; page: number } | undefined;
    const close = () => {
      if (!run) return;
      const off = run.page * PAGE_SIZE;
      out.push({ va: run.va, n: run.n, bytes: chunks[run.chunk]!.subarray(off, off + run.n * PAGE_SIZE) });
      run = undefined;
    };
    for (const r of need) {
      for (let i = lowerBound(h, r.start); i < h.length && h.va[i]! < r.end; i++) {
        const a = h.va[i]!;
        while (s < skip.length && skip[s]!.end <= a) s++;
        if (s < skip.length && skip[s]!.start <= a) {
          close();
          continue;
        }
        const c = h.chunk[i]!;
        const p = h.page[i]!;
        if (run && run.va + run.n * PAGE_SIZE === a && run.chunk === c && run.page + run.n === p) run.n++;
        else {
          close();
          run = { va: a, n: 1, chunk: c, page: p };
        }
      }
      close();
    }
    return out;
  }

  /** Drop everything held. */
  clear(): void {
    this.held = EMPTY;
  }
}
