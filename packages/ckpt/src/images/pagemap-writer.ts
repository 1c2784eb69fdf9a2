/**
 * Streams one task's (or shmem segment's) pages into a pagemap image and its pages file.
 *
 * ```
 * addPages(vaddr, n, bytes) --> pages-<id>.img   += bytes          (written now, synchronously, no copy)
 *                           \-> pagemap-<pid>.img += entry          (buffered; merged with the previous
 * addHole(vaddr, n)         --> pagemap-<pid>.img += PE_PARENT entry  entry when adjacent, same flags)
 * ```
 * Ranges must come in ascending vaddr and must not overlap (`BAD_ORDER` otherwise). The running offset
 * into the pages file is `pagesOffset`. `finish()` flushes and closes both files; `discard()` closes and
 * deletes them (and is what disposing an unfinished writer does). The writer writes to the paths it is given; `ImageDir` gives it temporary names and renames
 * them on commit.
 *
 * @example
 * const w = new PagemapWriter({ pagemapPath, pagesPath, pagesId: 1 });
 * w.addPages(0x400000, 2, buf.subarray(0, 8192));       // PE_PRESENT
 * w.addHole(0x402000, 4);                               // PE_PARENT: the pages are in the parent dump
 * w.finish();
 */
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { PAGE_SIZE } from '../sys/constants.js';
import { fsCall, ImageError } from './errors.js';
import { encodeHeader } from './image-file.js';
import { MAGIC, PE } from './magics.js';
import { MAX_COMPAT_PAGES, pagemapEntry } from './pagemap.js';
import { pagemapEntryCodec, pagemapHeadCodec } from './schema.js';

/** Where a `PagemapWriter` writes, and the pages id it records. */
export interface PagemapWriterOptions {
  pagemapPath: string;
  pagesPath: string;
  /** The `<n>` of pages-<n>.img, stored in the pagemap head. */
  pagesId: number;
  /** Merge a range into the previous entry when adjacent with the same flags (default true). */
  merge?: boolean;
}

const STAGING_BYTES = 64 * 1024;

/** Writes one pagemap image and its pages file (see the module comment). */
export class PagemapWriter {
  readonly pagesId: number;
  readonly pagemapPath: string;
  readonly pagesPath: string;
  private pagemapFd: number | undefined;
  private pagesFd: number | undefined;
  private readonly merge: boolean;
  private pending: { vaddr: number; nrPages: number; flags: number } | undefined;
  /** Framed entries not yet written to the pagemap file. */
  private readonly staging = Buffer.allocUnsafe(STAGING_BYTES);
  private staged = 0;
  private end = 0;
  private offset = 0;
  private entryCount = 0;
  private pagesIn = 0;
  private holesIn = 0;
  private done = false;

  constructor(opts: PagemapWriterOptions) {
    this.pagesId = opts.pagesId;
    this.pagemapPath = opts.pagemapPath;
    this.pagesPath = opts.pagesPath;
    this.merge = opts.merge ?? true;
    this.pagemapFd = fsCall(`create ${opts.pagemapPath}`, () => openSync(opts.pagemapPath, 'w', 0o600));
    try {
      this.pagesFd = fsCall(`create ${opts.pagesPath}`, () => openSync(opts.pagesPath, 'w', 0o600));
    } catch (e) {
      this.discard();
      throw e;
    }
    const header = encodeHeader(MAGIC.PAGEMAP);
    header.copy(this.staging);
    this.staged = header.length;
    this.stage(pagemapHeadCodec.encode({ pages_id: opts.pagesId }));
  }

  /** Byte offset in the pages file where the next page data goes. */
  get pagesOffset(): number {
    return this.offset;
  }

  /** Pages written with data, pages recorded as holes, and pagemap entries (after merging). */
  get counts(): { pagesWritten: number; holePages: number; entries: number } {
    return { pagesWritten: this.pagesIn, holePages: this.holesIn, entries: this.entryCount };
  }

  /** Add `nrPages` pages at `vaddr` whose contents are `bytes` (exactly nrPages × 4096; a view is fine). */
  addPages(vaddr: number, nrPages: number, bytes: Uint8Array, flags: number = PE.PRESENT): void {
    if ((flags & PE.PRESENT) === 0) throw new ImageError('BAD_STATE', 'page data needs PE_PRESENT in flags');
    if (bytes.length !== nrPages * PAGE_SIZE) {
      throw new ImageError('BAD_STATE', `${bytes.length} bytes given for ${nrPages} pages`);
    }
    this.addRange(vaddr, nrPages, flags);
    const fd = this.pagesFd!;
    fsCall(`write ${this.pagesPath}`, () => {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    });
    this.offset += bytes.length;
    this.pagesIn += nrPages;
  }

  /** Add a range with no data here: PE_PARENT (a hole: the parent has it) or PE_LAZY. */
  addHole(vaddr: number, nrPages: number, flags: number = PE.PARENT): void {
    if (flags & PE.PRESENT) throw new ImageError('BAD_STATE', 'a range without data cannot be PE_PRESENT');
    this.addRange(vaddr, nrPages, flags);
    this.holesIn += nrPages;
  }

  private addRange(vaddr: number, nrPages: number, flags: number): void {
    if (this.pagemapFd === undefined) throw new ImageError('BAD_STATE', `${this.pagemapPath} is closed`);
    if (!Number.isInteger(nrPages) || nrPages < 1) {
      throw new ImageError('BAD_STATE', `bad page count ${nrPages}`);
    }
    if (!Number.isInteger(vaddr) || vaddr % PAGE_SIZE !== 0) {
      throw new ImageError('BAD_STATE', `vaddr 0x${vaddr.toString(16)} not page-aligned`);
    }
    if (vaddr < this.end) {
      throw new ImageError(
        'BAD_ORDER',
        `range at 0x${vaddr.toString(16)} starts below the end of the previous one (0x${this.end.toString(16)})`,
      );
    }
    const p = this.pending;
    if (
      this.merge &&
      p !== undefined &&
      p.flags === flags &&
      p.vaddr + p.nrPages * PAGE_SIZE === vaddr &&
      p.nrPages + nrPages <= MAX_COMPAT_PAGES
    ) {
      p.nrPages += nrPages;
    } else {
      this.flushPending();
      this.pending = { vaddr, nrPages, flags };
    }
    this.end = vaddr + nrPages * PAGE_SIZE;
  }

  private flushPending(): void {
    const p = this.pending;
    if (p === undefined) return;
    this.pending = undefined;
    this.stage(pagemapEntryCodec.encodeTrusted(pagemapEntry(p.vaddr, p.nrPages, p.flags)));
    this.entryCount++;
  }

  /** Append one framed entry to the staging buffer, writing the buffer out when full. */
  private stage(msg: Uint8Array): void {
    if (this.staged + 4 + msg.length > this.staging.length) this.flushStaging();
    this.staging.writeUInt32LE(msg.length, this.staged);
    this.staging.set(msg, this.staged + 4);
    this.staged += 4 + msg.length;
  }

  private flushStaging(): void {
    const fd = this.pagemapFd!;
    const buf = this.staging;
    const len = this.staged;
    this.staged = 0;
    fsCall(`write ${this.pagemapPath}`, () => {
      let off = 0;
      while (off < len) off += writeSync(fd, buf, off, len - off);
    });
  }

  /** Flush the last entry and close both files. Safe to call twice. */
  finish(): void {
    if (this.pagemapFd === undefined) return;
    try {
      this.flushPending();
      this.flushStaging();
      this.done = true;
    } finally {
      this.closeFds();
    }
  }

  /** Close and delete both files (used when the dump fails). Safe to call twice. */
  discard(): void {
    this.closeFds();
    for (const p of [this.pagemapPath, this.pagesPath]) {
      try {
        unlinkSync(p);
      } catch {
        // already gone
      }
    }
  }

  /** Whether `finish()` completed. */
  get finished(): boolean {
    return this.done;
  }

  /** Discards the files unless `finish()` completed. */
  [Symbol.dispose](): void {
    if (!this.done) this.discard();
  }

  private closeFds(): void {
    for (const fd of [this.pagemapFd, this.pagesFd]) if (fd !== undefined) closeSync(fd);
    this.pagemapFd = undefined;
    this.pagesFd = undefined;
    this.pending = undefined;
    this.staged = 0;
  }
}
