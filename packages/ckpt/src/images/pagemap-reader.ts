/**
 * Reads a pagemap image and the page data of its PE_PRESENT ranges.
 *
 * Each range carries `offset`: where its data starts in `pages-<pagesId>.img` (PE_PRESENT ranges only),
 * the running sum of the sizes of earlier PE_PRESENT ranges. The pages file is opened on first use and
 * closed by `close()`.
 *
 * @example
 * using pm = PagemapReader.open(dir, 'pagemap-42.img');
 * for (const r of pm) if (r.offset !== undefined) console.log(r.vaddr, r.nrPages, r.offset);
 * const page = pm.readPage(0x400000); // Buffer of 4096 bytes, or undefined if not PE_PRESENT here
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { PAGE_SIZE } from '../sys/constants.js';
import { BugError } from '../sys/index.js';
import { fsCall, ImageError } from './errors.js';
import { imageFileName, PE } from './magics.js';
import { decodePagemapImage, entryFlags, entryPages } from './pagemap.js';
import { recallPagemap } from './pagemap-memo.js';

/** One pagemap entry with its flags resolved and its data offset computed. */
export interface PagemapRange {
  readonly vaddr: number;
  readonly nrPages: number;
  readonly flags: number;
  /** Byte offset of this range's data in the pages file; only for PE_PRESENT ranges. */
  readonly offset?: number;
}

/**
 * Index of the first of `ranges` (ascending, not overlapping) that ends above `vaddr`: where a walk of
 * the ranges from `vaddr` on starts (ranges.length when none does).
 */
export function firstEndingAbove(ranges: readonly PagemapRange[], vaddr: number): number {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const m = ranges[mid]!;
    if (m.vaddr + m.nrPages * PAGE_SIZE <= vaddr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A decoded pagemap image plus lazy access to its pages file (see the module comment). */
export class PagemapReader implements Iterable<PagemapRange> {
  readonly pagesId: number;
  readonly ranges: readonly PagemapRange[];
  /** Whether ranges are in ascending vaddr without overlap (then lookups are binary searches). */
  readonly sorted: boolean;
  readonly pagesPath: string;
  private pagesFd: number | undefined;

  private constructor(pagesId: number, ranges: PagemapRange[], pagesPath: string) {
    this.pagesId = pagesId;
    this.ranges = ranges;
    this.pagesPath = pagesPath;
    let sorted = true;
    for (let i = 1; i < ranges.length && sorted; i++) {
      const prev = ranges[i - 1]!;
      if (ranges[i]!.vaddr < prev.vaddr + prev.nrPages * PAGE_SIZE) sorted = false;
    }
    this.sorted = sorted;
  }

  /** Read `dir/name` (a pagemap image); its pages file is `dir/pages-<pages_id>.img`. */
  static open(dir: string, name: string): PagemapReader {
    const path = join(dir, name);
    const known = recallPagemap(path); // written by this process: not decoded again (pagemap-memo.ts)
    if (known)
      return new PagemapReader(known.pagesId, known.ranges, join(dir, imageFileName.pages(known.pagesId)));
    return PagemapReader.fromBytes(
      fsCall(`read ${path}`, () => readFileSync(path)),
      dir,
    );
  }

  /** Decode pagemap bytes whose pages file lives in `dir`. */
  static fromBytes(bytes: Uint8Array, dir: string): PagemapReader {
    const img = decodePagemapImage(bytes);
    let offset = 0;
    const ranges = img.entries.map((e): PagemapRange => {
      const nrPages = entryPages(e);
      const flags = entryFlags(e);
      if (flags & PE.PRESENT) {
        const r = { vaddr: e.vaddr, nrPages, flags, offset };
        offset += nrPages * PAGE_SIZE;
        return r;
      }
      return { vaddr: e.vaddr, nrPages, flags };
    });
    return new PagemapReader(img.head.pages_id, ranges, join(dir, imageFileName.pages(img.head.pages_id)));
  }

  [Symbol.iterator](): Iterator<PagemapRange> {
    return this.ranges[Symbol.iterator]();
  }

  /** Total pages with data in this image (the pages file must be this many pages long). */
  get presentPages(): number {
    let n = 0;
    for (const r of this.ranges) if (r.flags & PE.PRESENT) n += r.nrPages;
    return n;
  }

  /** The range containing `vaddr`, if any. */
  find(vaddr: number): PagemapRange | undefined {
    const rs = this.ranges;
    if (!this.sorted) return rs.find((r) => vaddr >= r.vaddr && vaddr < r.vaddr + r.nrPages * PAGE_SIZE);
    let lo = 0;
    let hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = rs[mid]!;
      if (vaddr < r.vaddr) hi = mid - 1;
      else if (vaddr >= r.vaddr + r.nrPages * PAGE_SIZE) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  /** Start of the first range that begins above `vaddr`, or undefined if there is none. */
  nextStart(vaddr: number): number | undefined {
    const rs = this.ranges;
    if (!this.sorted) {
      let best: number | undefined;
      for (const r of rs) if (r.vaddr > vaddr && (best === undefined || r.vaddr < best)) best = r.vaddr;
      return best;
    }
    let lo = 0;
    let hi = rs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rs[mid]!.vaddr > vaddr) hi = mid;
      else lo = mid + 1;
    }
    return rs[lo]?.vaddr;
  }

  /** The 4096 bytes of the page at `vaddr` if this image holds its data (PE_PRESENT), else undefined. */
  readPage(vaddr: number): Buffer | undefined {
    const page = vaddr - (vaddr % PAGE_SIZE);
    const r = this.find(page);
    if (r?.offset === undefined) return undefined;
    return this.readAt(r.offset + (page - r.vaddr), PAGE_SIZE);
  }

  /** All data bytes of a PE_PRESENT range. */
  readRange(r: PagemapRange): Buffer {
    if (r.offset === undefined) throw new BugError('range has no data in this image', { code: 'BAD_STATE' });
    return this.readAt(r.offset, r.nrPages * PAGE_SIZE);
  }

  private readAt(position: number, length: number): Buffer {
    if (this.pagesFd === undefined) {
      this.pagesFd = fsCall(`open ${this.pagesPath}`, () => openSync(this.pagesPath, 'r'));
    }
    const fd = this.pagesFd;
    const out = Buffer.alloc(length);
    let got = 0;
    fsCall(`read ${this.pagesPath}`, () => {
      while (got < length) {
        const n = readSync(fd, out, got, length - got, position + got);
        if (n === 0) break;
        got += n;
      }
    });
    if (got < length) {
      throw new ImageError('TRUNCATED', `${this.pagesPath}: ends before offset ${position + length}`);
    }
    return out;
  }

  /** Close the pages file. Safe to call twice. */
  close(): void {
    if (this.pagesFd !== undefined) closeSync(this.pagesFd);
    this.pagesFd = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
