/**
 * Streams one task's (or shmem segment's) pages into a pagemap image and its pages file.
 *
 * ```
 * addPages(vaddr, n, bytes)   --> pages-<id>.img += bytes  (written now, synchronously, no copy)
 * queuePages(vaddr, n, bytes) --> pages-<id>.img += bytes  (queued, no copy: written by the next flush(),
 *                                                          one positioned writev of all queued pieces,
 *                                                          contiguous views merged into one iovec)
 *        both                 \-> pagemap-<pid>.img += entry  (buffered; merged with the previous entry
 * addHole(vaddr, n)           --> pagemap-<pid>.img += PE_PARENT entry   when adjacent, same flags)
 * ```
 * The pages file is nothing but the page data in pagemap order, so everything queued between two flushes
 * is one contiguous stretch of it: one write call per flush. flush() runs that write on libuv's thread
 * pool and may be called again before the previous one settled (each write has its own file position);
 * queued bytes must stay untouched until the flush that took them settles.
 *
 * Ranges must come in ascending vaddr and must not overlap (`BAD_ORDER` otherwise). The running offset
 * into the pages file is `pagesOffset`. `finish()` writes what is still queued, then closes both files
 * (BAD_STATE while a flush is in flight: await `settled()` first); `discard()` closes and deletes them
 * (and is what disposing an unfinished writer does; it waits for writes in flight before closing the
 * fd). The writer writes to the paths it is given; `ImageDir` gives it temporary names and renames them
 * on commit. `useDirectIo()` (before the first page) reopens the pages file with O_DIRECT: the page cache
 * is bypassed, so every piece must be page-aligned in memory (a piece that is not turns the writer back to
 * buffered writes for the rest of the file).
 *
 * @example
 * const w = new PagemapWriter({ pagemapPath, pagesPath, pagesId: 1 });
 * w.addPages(0x400000, 2, buf.subarray(0, 8192));       // PE_PRESENT
 * w.addHole(0x402000, 4);                               // PE_PARENT: the pages are in the parent dump
 * w.queuePages(0x406000, 1, buf.subarray(8192, 12288)); // written by flush()
 * await w.flush();
 * w.finish();
 */
import {
  closeSync,
  constants as fsConstants,
  openSync,
  statfsSync,
  unlinkSync,
  writeSync,
  writev,
  writevSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { PAGE_SIZE } from '../sys/constants.js';
import { BugError } from '../sys/index.js';
import { libc } from '../sys/libc.js';
import { fsCall, ImageError } from './errors.js';
import { encodeHeader } from './image-file.js';
import { MAGIC, PE } from './magics.js';
import { MAX_COMPAT_PAGES, pagemapEntry } from './pagemap.js';
import { rememberPagemap } from './pagemap-memo.js';
import type { PagemapRange } from './pagemap-reader.js';
import { pagemapEntryCodec, pagemapHeadCodec } from './schema.js';

/** Where a `PagemapWriter` writes, and the pages id it records. */
export interface PagemapWriterOptions {
  pagemapPath: string;
  pagesPath: string;
  /** The `<n>` of pages-<n>.img, stored in the pagemap head. */
  pagesId: number;
  /** Merge a range into the previous entry when adjacent with the same flags (default true). */
  merge?: boolean;
  /** Keep the entries decoded for a reader of this file in this process (pagemap-memo.ts). */
  remember?: boolean;
}

const STAGING_BYTES = 64 * 1024;
/** statfs f_type of a tmpfs. */
const TMPFS_MAGIC = 0x01021994;

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
  /** Views queued by queuePages(); they start at `queuedAt` in the pages file. */
  private queue: Uint8Array[] = [];
  private queuedAt = 0;
  /**
   * The run being extended: queued pieces contiguous in memory, after `queue` (one view is made for the
   * whole run when it ends, not one per piece).
   */
  private run: Uint8Array | undefined;
  private runLength = 0;
  /** Writes in flight (flush() calls not settled yet). */
  private readonly inflight = new Set<Promise<void>>();
  /** The first failure of an asynchronous write, reported by the next call. */
  private failure: ImageError | undefined;
  private direct = false;
  private entryCount = 0;
  /** The entries as a reader decodes them (remember: true), and the data offset of the next one. */
  private kept: PagemapRange[] | undefined;
  private keptOffset = 0;
  private pagesIn = 0;
  private holesIn = 0;
  private done = false;

  constructor(opts: PagemapWriterOptions) {
    this.pagesId = opts.pagesId;
    this.pagemapPath = opts.pagemapPath;
    this.pagesPath = opts.pagesPath;
    this.merge = opts.merge ?? true;
    if (opts.remember) this.kept = [];
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

  /**
   * Reopen the pages file with O_DIRECT (before any page was added). Returns false, and stays buffered,
   * when the file system refuses it (EINVAL) or is a tmpfs (whose pages are the page cache: O_DIRECT
   * there is the same copy, only later).
   */
  useDirectIo(): boolean {
    if (this.pagesFd === undefined || this.offset > 0) {
      throw new BugError('useDirectIo() after the first page', { code: 'BAD_STATE' });
    }
    try {
      if (statfsSync(dirname(this.pagesPath)).type === TMPFS_MAGIC) return false;
    } catch {
      return false;
    }
    let fd: number;
    try {
      fd = openSync(this.pagesPath, fsConstants.O_WRONLY | fsConstants.O_DIRECT);
    } catch {
      return false;
    }
    closeSync(this.pagesFd);
    this.pagesFd = fd;
    this.direct = true;
    return true;
  }

  /** Write buffers (iovecs) the next flush will hand to writev: contiguous queued pieces count once. */
  get queuedViews(): number {
    return this.queue.length + (this.run ? 1 : 0);
  }

  /** Whether pages go to the file with O_DIRECT. */
  get directIo(): boolean {
    return this.direct;
  }

  /** Add `nrPages` pages at `vaddr` whose contents are `bytes` (exactly nrPages × 4096; a view is fine). */
  addPages(vaddr: number, nrPages: number, bytes: Uint8Array, flags: number = PE.PRESENT): void {
    this.queuePages(vaddr, nrPages, bytes, flags);
    this.flushSync();
  }

  /**
   * Add pages like addPages(), but only queue their bytes (no copy): they are written by the next
   * flush()/flushSync()/finish(), and must stay untouched until then.
   */
  queuePages(vaddr: number, nrPages: number, bytes: Uint8Array, flags: number = PE.PRESENT): void {
    this.check();
    if ((flags & PE.PRESENT) === 0)
      throw new BugError('page data needs PE_PRESENT in flags', { code: 'BAD_STATE' });
    if (bytes.length !== nrPages * PAGE_SIZE) {
      throw new BugError(`${bytes.length} bytes given for ${nrPages} pages`, { code: 'BAD_STATE' });
    }
    this.addRange(vaddr, nrPages, flags);
    const run = this.run;
    if (
      run !== undefined &&
      run.byteOffset + this.runLength === bytes.byteOffset &&
      run.buffer === bytes.buffer
    ) {
      this.runLength += bytes.length;
    } else {
      this.endRun();
      // a run starting aligned stays aligned: its pieces are whole pages
      if (this.direct && libc().address(bytes) % PAGE_SIZE !== 0) this.leaveDirectIo();
      this.run = bytes;
      this.runLength = bytes.length;
    }
    this.offset += bytes.length;
    this.pagesIn += nrPages;
  }

  /** Move the run being extended to the queue, as one view. */
  private endRun(): void {
    const r = this.run;
    if (r === undefined) return;
    this.queue.push(this.runLength === r.length ? r : new Uint8Array(r.buffer, r.byteOffset, this.runLength));
    this.run = undefined;
    this.runLength = 0;
  }

  /** Take the queue: the pieces and where they go. */
  private takeQueue(): { views: Uint8Array[]; at: number; len: number } {
    this.endRun();
    const views = this.queue;
    const at = this.queuedAt;
    this.queue = [];
    this.queuedAt = this.offset;
    return { views, at, len: this.offset - at };
  }

  /** Write the queued pieces now, on this thread. */
  flushSync(): void {
    this.check();
    if (this.queuedViews === 0) return;
    const { views, at, len } = this.takeQueue();
    const fd = this.pagesFd!;
    fsCall(`write ${this.pagesPath}`, () => {
      let done = writevSync(fd, views, at);
      while (done < len) done += writeRest(fd, views, at, done);
    });
  }

  /**
   * Write the queued pieces with one positioned writev on libuv's thread pool. Resolves when they are in
   * the file (the page cache, or the disk with O_DIRECT); rejects with ImageError IO. Several may be in
   * flight at once.
   */
  flush(): Promise<void> {
    this.check();
    if (this.queuedViews === 0) return Promise.resolve();
    const { views, at, len } = this.takeQueue();
    const fd = this.pagesFd!;
    const p = new Promise<void>((resolve, reject) => {
      writev(fd, views, at, (e, n) => {
        if (e) return reject(fsError(`write ${this.pagesPath}`, e));
        try {
          let done = n;
          while (done < len) done += writeRest(fd, views, at, done);
        } catch (e2) {
          return reject(fsError(`write ${this.pagesPath}`, e2));
        }
        resolve();
      });
    }).then(
      () => {
        this.inflight.delete(p);
      },
      (e: ImageError) => {
        this.inflight.delete(p);
        this.failure ??= e;
        throw e;
      },
    );
    this.inflight.add(p);
    return p;
  }

  /** Resolves when no flush() is in flight (rejects with the first failure), or undefined if none is. */
  settled(): Promise<void> | undefined {
    if (this.inflight.size === 0) {
      if (this.failure) return Promise.reject(this.failure);
      return undefined;
    }
    return Promise.allSettled([...this.inflight]).then(() => {
      if (this.failure) throw this.failure;
    });
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.pagesFd === undefined) throw new BugError(`${this.pagesPath} is closed`, { code: 'BAD_STATE' });
  }

  /** A piece not aligned for O_DIRECT: the rest of the file goes through the page cache. */
  private leaveDirectIo(): void {
    const old = this.pagesFd!;
    this.pagesFd = fsCall(`open ${this.pagesPath}`, () => openSync(this.pagesPath, fsConstants.O_WRONLY));
    this.direct = false;
    const waits = this.settled();
    if (waits) waits.finally(() => closeSync(old)).catch(() => {});
    else closeSync(old);
  }

  /** Add a range with no data here: PE_PARENT (a hole: the parent has it) or PE_LAZY. */
  addHole(vaddr: number, nrPages: number, flags: number = PE.PARENT): void {
    if (flags & PE.PRESENT)
      throw new BugError('a range without data cannot be PE_PRESENT', { code: 'BAD_STATE' });
    this.addRange(vaddr, nrPages, flags);
    this.holesIn += nrPages;
  }

  private addRange(vaddr: number, nrPages: number, flags: number): void {
    if (this.pagemapFd === undefined)
      throw new BugError(`${this.pagemapPath} is closed`, { code: 'BAD_STATE' });
    if (!Number.isInteger(nrPages) || nrPages < 1) {
      throw new BugError(`bad page count ${nrPages}`, { code: 'BAD_STATE' });
    }
    if (!Number.isInteger(vaddr) || vaddr % PAGE_SIZE !== 0) {
      throw new BugError(`vaddr 0x${vaddr.toString(16)} not page-aligned`, { code: 'BAD_STATE' });
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
    if (this.kept) {
      if (p.flags & PE.PRESENT) {
        this.kept.push({ vaddr: p.vaddr, nrPages: p.nrPages, flags: p.flags, offset: this.keptOffset });
        this.keptOffset += p.nrPages * PAGE_SIZE;
      } else this.kept.push({ vaddr: p.vaddr, nrPages: p.nrPages, flags: p.flags });
    }
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

  /** Write what is queued, flush the last entry and close both files. Safe to call twice. */
  finish(): void {
    if (this.pagemapFd === undefined) return;
    if (this.inflight.size > 0)
      throw new BugError(`finish() of ${this.pagesPath} during a flush`, { code: 'BAD_STATE' });
    try {
      this.flushSync();
      this.flushPending();
      this.flushStaging();
      this.done = true;
    } finally {
      this.closeFds();
    }
    if (this.kept) rememberPagemap(this.pagemapPath, this.pagesId, this.kept);
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
    const pages = this.pagesFd;
    if (this.pagemapFd !== undefined) closeSync(this.pagemapFd);
    // a write still in flight on the thread pool must not find its fd closed (or reused by another file)
    const waits = this.inflight.size > 0 ? Promise.allSettled([...this.inflight]) : undefined;
    if (pages !== undefined) {
      if (waits) void waits.then(() => closeSync(pages));
      else closeSync(pages);
    }
    this.queue = [];
    this.run = undefined;
    this.runLength = 0;
    this.pagemapFd = undefined;
    this.pagesFd = undefined;
    this.pending = undefined;
    this.staged = 0;
  }
}

/** Write what is left of `views` after the first `done` bytes (a short write), from file offset at + done. */
function writeRest(fd: number, views: Uint8Array[], at: number, done: number): number {
  let skip = done;
  const rest: Uint8Array[] = [];
  for (const v of views) {
    if (skip >= v.length) skip -= v.length;
    else {
      rest.push(skip > 0 ? v.subarray(skip) : v);
      skip = 0;
    }
  }
  const n = writevSync(fd, rest, at + done);
  if (n <= 0) throw new Error('short write');
  return n;
}

/** Node's error of an asynchronous write, as the ImageError fsCall would give. */
function fsError(what: string, e: unknown): ImageError {
  try {
    return fsCall(what, () => {
      throw e;
    });
  } catch (err) {
    return err as ImageError;
  }
}
