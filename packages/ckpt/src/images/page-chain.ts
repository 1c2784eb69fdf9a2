/**
 * Finding a task's pages along a chain of image sets: a PE_PARENT range of `pagemap-<pid>.img` means "the
 * same addresses in `parent/pagemap-<pid>.img`", recursively, as CRIU's restore reads them.
 *
 * ```
 * pre3/pagemap-42  [0x1000 PRESENT][0x2000 PARENT ][0x3000 PARENT ]
 * pre2/pagemap-42  [0x1000 PRESENT][0x2000 PRESENT][0x3000 PARENT ]    (pre3/parent -> ../pre2)
 * pre1/pagemap-42  [0x1000 PRESENT][0x2000 PRESENT][0x3000 PRESENT]    (pre2/parent -> ../pre1)
 * ```
 * A missing `parent` link where one is needed is `MISSING_PARENT`; a dangling or looping link, or a parent
 * without the pid's pagemap, is `BROKEN_CHAIN`. Addresses no pagemap covers are 'absent'; a PE_LAZY range
 * without PE_PRESENT is 'held': its data is not in the pages file but somewhere else (a migration's
 * destination writes the pages of the process it builds ahead straight into that process, and records them
 * so; restore/prebuilt-process.ts). A chain may be given the parent's chain already open (`below`, e.g. a migration's destination
 * that walked it for the previous set): its decoded pagemaps are reused, and closing this chain closes it.
 *
 * @example
 * resolvePage('/ckpt/pre3', 42, 0x3000); // Buffer: the page as pre1 stored it
 * using chain = new PageChain(ImageDir.open('/ckpt/pre3'), 42);
 * chain.locate(0x1000, 3); // [{ vaddr: 0x1000, nrPages: 1, depth: 0, ... }, { vaddr: 0x2000, nrPages: 1, depth: 1, ... }, ...]
 */
import { realpathSync } from 'node:fs';
import { PAGE_SIZE } from '../sys/constants.js';
import { fsCall, ImageError } from './errors.js';
import { ImageDir } from './image-dir.js';
import { PE } from './magics.js';
import type { PagemapRange, PagemapReader } from './pagemap-reader.js';

/** Where a run of pages lives: in the image set `depth` links up the chain, held elsewhere, or nowhere. */
export type PageLocation =
  | { vaddr: number; nrPages: number; where: 'absent' }
  | { vaddr: number; nrPages: number; where: 'held'; depth: number; dir: string }
  | {
      vaddr: number;
      nrPages: number;
      where: 'data';
      depth: number;
      dir: string;
      pagesPath: string;
      offset: number;
    };

interface Level {
  dir: ImageDir;
  reader: PagemapReader;
}

/** Lazily opened pagemaps of one pid along the parent chain. Close it to release the pages files. */
export class PageChain {
  private readonly levels: Level[] = [];
  private readonly seen = new Set<string>();
  private belowChecked = false;

  /**
   * `below`: the chain of `top`'s parent, open (its levels are this chain's depth 1 and down; this chain
   * owns it from here and closes it).
   */
  constructor(
    private readonly top: ImageDir,
    readonly pid: number,
    private readonly below?: PageChain,
  ) {}

  private level(depth: number): Level {
    while (this.levels.length <= depth) {
      const below = this.levels.at(-1);
      let dir = this.top;
      if (below !== undefined) {
        const parent = below.dir.parent();
        if (parent === undefined) {
          throw new ImageError(
            'MISSING_PARENT',
            `${below.dir.path}: pages are in the parent, but there is no parent link`,
          );
        }
        dir = parent;
      }
      const real = fsCall(`realpath ${dir.path}`, () => realpathSync(dir.path));
      if (this.seen.has(real)) throw new ImageError('BROKEN_CHAIN', `${dir.path}: parent links form a loop`);
      this.seen.add(real);
      if (below !== undefined && !dir.hasPagemap(this.pid)) {
        throw new ImageError('BROKEN_CHAIN', `${dir.path}: parent has no pagemap for pid ${this.pid}`);
      }
      this.levels.push({ dir, reader: dir.pagemap(this.pid) });
    }
    return this.levels[depth]!;
  }

  /** The entries of the top image set's pagemap (decoded once, shared with locate()). */
  get ranges(): readonly PagemapRange[] {
    return this.level(0).reader.ranges;
  }

  /** Whether the top pagemap's entries ascend without overlap (binary searches work on `ranges`). */
  get sorted(): boolean {
    return this.level(0).reader.sorted;
  }

  /** The page at `vaddr` (4096 bytes) from whichever image set holds it, or 'absent'. */
  page(vaddr: number): Buffer | 'absent' {
    const page = vaddr - (vaddr % PAGE_SIZE);
    const [loc] = this.locate(page, 1);
    if (loc === undefined || loc.where === 'absent') return 'absent';
    if (loc.where === 'held')
      throw new ImageError(
        'HELD',
        `${loc.dir}: the page at 0x${page.toString(16)} is held elsewhere (PE_LAZY)`,
      );
    if (loc.depth > 0 && this.below) return this.below.page(page);
    return this.level(loc.depth).reader.readPage(page)!;
  }

  /** Split [vaddr, vaddr + nrPages pages) into runs by where their data lives. */
  locate(vaddr: number, nrPages: number): PageLocation[] {
    const out: PageLocation[] = [];
    this.locateAt(0, vaddr, vaddr + nrPages * PAGE_SIZE, out, 0);
    return out;
  }

  /** `base`: this chain's depth in the chain that asked (a chain given as `below` is one level down). */
  private locateAt(depth: number, start: number, end: number, out: PageLocation[], base: number): void {
    const { dir, reader } = this.level(depth);
    let pos = start;
    while (pos < end) {
      const r = reader.find(pos);
      if (r === undefined) {
        const stop = Math.min(end, reader.nextStart(pos) ?? end);
        push(out, { vaddr: pos, nrPages: (stop - pos) / PAGE_SIZE, where: 'absent' });
        pos = stop;
        continue;
      }
      const stop = Math.min(end, r.vaddr + r.nrPages * PAGE_SIZE);
      const nrPages = (stop - pos) / PAGE_SIZE;
      if (r.offset !== undefined) {
        const offset = r.offset + (pos - r.vaddr);
        push(out, {
          vaddr: pos,
          nrPages,
          where: 'data',
          depth: depth + base,
          dir: dir.path,
          pagesPath: reader.pagesPath,
          offset,
        });
      } else if (r.flags & PE.PARENT) {
        if (depth === 0 && this.below) this.belowChain().locateAt(0, pos, stop, out, base + 1);
        else this.locateAt(depth + 1, pos, stop, out, base);
      } else if (r.flags & PE.LAZY) {
        push(out, { vaddr: pos, nrPages, where: 'held', depth: depth + base, dir: dir.path });
      } else {
        push(out, { vaddr: pos, nrPages, where: 'absent' });
      }
      pos = stop;
    }
  }

  /** The parent's chain given open, checked once to be the top's parent. */
  private belowChain(): PageChain {
    const below = this.below!;
    if (!this.belowChecked) {
      const parent = this.top.parent();
      const real = (d: ImageDir) => fsCall(`realpath ${d.path}`, () => realpathSync(d.path));
      if (parent === undefined || real(parent) !== real(below.top))
        throw new ImageError('BROKEN_CHAIN', `${this.top.path}: its parent is not ${below.top.path}`);
      this.belowChecked = true;
    }
    return below;
  }

  /**
   * Whether every page of the range has data somewhere in the chain: what a dump checks before writing a
   * PE_PARENT hole for it into the next image set (whose parent is this chain's top).
   */
  covers(vaddr: number, nrPages: number): boolean {
    return this.locate(vaddr, nrPages).every((l) => l.where === 'data');
  }

  /** Close every pages file opened. Safe to call twice. */
  close(): void {
    for (const l of this.levels) l.reader.close();
    this.below?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Append a run, merging it into the previous one when it continues it. */
function push(out: PageLocation[], loc: PageLocation): void {
  const prev = out.at(-1);
  if (prev && prev.vaddr + prev.nrPages * PAGE_SIZE === loc.vaddr) {
    if (
      (prev.where === 'absent' && loc.where === 'absent') ||
      (prev.where === 'held' && loc.where === 'held' && prev.depth === loc.depth)
    ) {
      prev.nrPages += loc.nrPages;
      return;
    }
    if (
      prev.where === 'data' &&
      loc.where === 'data' &&
      prev.depth === loc.depth &&
      prev.offset + prev.nrPages * PAGE_SIZE === loc.offset
    ) {
      prev.nrPages += loc.nrPages;
      return;
    }
  }
  out.push(loc);
}

/**
 * The page at `vaddr` of task `pid`, following `parent` links for PE_PARENT ranges; 'absent' when no
 * image set of the chain holds it.
 *
 * @example
 * const bytes = resolvePage('/ckpt/pre3', 42, 0x7f0000001000);
 */
export function resolvePage(dir: string | ImageDir, pid: number, vaddr: number): Buffer | 'absent' {
  const top = typeof dir === 'string' ? ImageDir.open(dir) : dir;
  using chain = new PageChain(top, pid);
  return chain.page(vaddr);
}
