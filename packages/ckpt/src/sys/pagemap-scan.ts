/**
 * The PAGEMAP_SCAN ioctl (Linux 6.7+) on /proc/PID/pagemap: page ranges by category, and (with
 * PM_SCAN_WP_MATCHING) re-arming of userfaultfd async write-protection in the same walk.
 *
 * struct pm_scan_arg (96 bytes, all u64): size, flags, start, end, walk_end (out), vec, vec_len, max_pages,
 * category_inverted, category_mask, category_anyof_mask, return_mask. The output vector holds
 * struct page_region { u64 start, end, categories } (24 bytes).
 *
 * Kernel quirk (walk_end): when more than 512 regions are produced, walk_end may keep a stale internal
 * restart address although the walk completed. Rule: if fewer regions than vec_len came back, the scan is
 * complete; otherwise continue from max(walk_end, end of the last region).
 *
 * Never put PAGE_IS_FILE in any mask: the kernel then looks up every page (4-10x slower).
 *
 * @example
 * using s = PagemapScanner.open(pid);
 * s.scan(vma.start, vma.end, { categoryMask: PAGE_IS.PRESENT, returnMask: PAGE_IS.PRESENT },
 *   (start, end) => ranges.push([start, end]));
 */
import { closeSync, openSync } from 'node:fs';
import { PAGE_IS, PAGE_REGION_SIZE, PAGE_SIZE, PAGEMAP_SCAN, PM_SCAN_ARG_SIZE } from './constants.js';
import { KernelUnsupportedError, SysError } from './errors.js';
import { libc } from './libc.js';

export interface ScanOptions {
  /** PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, or 0. */
  readonly flags?: number;
  readonly categoryInverted?: number;
  /** All of these categories must match (after inversion). */
  readonly categoryMask?: number;
  /** At least one of these must match. */
  readonly anyofMask?: number;
  /** Categories reported per region; regions merge when their reported categories are equal. */
  readonly returnMask?: number;
  /** Stop after this many pages (0 = no limit). */
  readonly maxPages?: number;
}

/** Called for each region: [start, end) and its categories (masked by returnMask). */
export type RegionCallback = (start: number, end: number, categories: number) => void;

const TWO32 = 4294967296;
/** Where a shared walk splits: a 2 MiB boundary (a page-table page's span). */
const HUGE = 2 << 20;

/** The pm_scan_arg words of one ioctl (see the module comment), as two u32 halves each. */
function setArg(arg: Uint32Array, i: number, v: number): void {
  arg[i * 2] = v % TWO32;
  arg[i * 2 + 1] = Math.floor(v / TWO32);
}

function getArg(arg: Uint32Array, i: number): number {
  return arg[i * 2]! + arg[i * 2 + 1]! * TWO32;
}

/**
 * One PAGEMAP_SCAN ioctl of [from, end) on `fd` into `vec` (`vecLen` regions at `vecAddr`; 0: none, an
 * arming walk): the number of regions written, and where the kernel stopped (walk_end). Throws
 * KernelUnsupportedError or SysError. Also run by the scan helper's thread (scan-helper.ts).
 */
export function scanOnce(
  fd: number,
  arg: Uint32Array,
  vecAddr: number,
  vecLen: number,
  from: number,
  end: number,
  o: ScanOptions,
  pid: number,
): { readonly regions: number; readonly walkEnd: number } {
  arg.fill(0);
  setArg(arg, 0, PM_SCAN_ARG_SIZE);
  setArg(arg, 1, o.flags ?? 0);
  setArg(arg, 2, from);
  setArg(arg, 3, end);
  if (vecLen > 0) {
    setArg(arg, 5, vecAddr);
    setArg(arg, 6, vecLen);
  }
  setArg(arg, 7, o.maxPages ?? 0);
  setArg(arg, 8, o.categoryInverted ?? 0);
  setArg(arg, 9, o.categoryMask ?? 0);
  setArg(arg, 10, o.anyofMask ?? 0);
  setArg(arg, 11, o.returnMask ?? 0);
  const r = libc().ioctl(fd, PAGEMAP_SCAN, new Uint8Array(arg.buffer, arg.byteOffset, PM_SCAN_ARG_SIZE));
  if (r < 0) {
    const errno = libc().errno();
    if (errno === 25 /* ENOTTY */ || errno === 22 /* EINVAL on old layouts */) {
      throw new KernelUnsupportedError('PAGEMAP_SCAN is not supported by this kernel (needs Linux 6.7+)');
    }
    throw new SysError('ioctl PAGEMAP_SCAN', errno, `pid ${pid}`);
  }
  return { regions: r, walkEnd: getArg(arg, 4) };
}

/** A second thread that walks half of a long range while the caller walks the other (scan-helper.ts). */
export interface WalkSharer {
  /** Smallest range worth splitting, bytes. */
  readonly minBytes: number;
  /** Start walking [start, end) of `fd` with `o` on the other thread; false if it is busy or gone. */
  post(fd: number, pid: number, start: number, end: number, o: ScanOptions): boolean;
  /**
   * Wait for the posted walk: its regions (start, end, categories triplets, `count` of them), and where
   * the rest of the range starts when it stopped short (its room was full; `end` when complete).
   * Throws what the walk threw.
   */
  wait(): { readonly regions: Float64Array; readonly count: number; readonly resumeAt: number };
}

let sharer: WalkSharer | undefined;

export class PagemapScanner {
  private readonly arg = new Uint32Array(PM_SCAN_ARG_SIZE / 4);
  private readonly vec: Uint32Array;
  private readonly vecAddr: number;
  private fd: number;

  private constructor(
    readonly pid: number,
    fd: number,
    readonly vecLen: number,
  ) {
    this.fd = fd;
    this.vec = new Uint32Array((vecLen * PAGE_REGION_SIZE) / 4);
    this.vecAddr = libc().address(this.vec);
  }

  /** Open /proc/PID/pagemap read-only. `vecLen` regions are returned per ioctl. */
  static open(pid: number, vecLen = 4096): PagemapScanner {
    let fd: number;
    try {
      fd = openSync(`/proc/${pid}/pagemap`, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new SysError('open pagemap', code === 'ENOENT' ? 3 : code === 'EACCES' ? 13 : 5, `pid ${pid}`);
    }
    return new PagemapScanner(pid, fd, vecLen);
  }

  /**
   * Walks of long ranges that only read (no PM_SCAN_WP_MATCHING, no page limit, a region callback) are
   * split in two from now on, the upper half walked by `s` on another thread at the same time (a frozen
   * window's walk of a 4 GiB target: ~half the time on an otherwise idle second core); undefined: not
   * any more. Process-wide: the owner of `s` (a migration) sets it and takes it back before closing it.
   *
   * @example
   * const helper = await ScanHelper.start(); PagemapScanner.shareWalks(helper);
   * try { ... } finally { PagemapScanner.shareWalks(undefined); helper.close(); }
   */
  static shareWalks(s: WalkSharer | undefined): void {
    sharer = s;
  }

  /** True if this kernel has PAGEMAP_SCAN (a zero-length scan on our own pagemap). */
  static supported(): boolean {
    const s = PagemapScanner.open(process.pid, 1);
    try {
      s.scan(0, PAGE_SIZE, { categoryMask: PAGE_IS.PRESENT, returnMask: PAGE_IS.PRESENT }, () => {});
      return true;
    } catch (e) {
      if (e instanceof KernelUnsupportedError) return false;
      throw e;
    } finally {
      s.close();
    }
  }

  /**
   * Scan [start, end). `onRegion` may be null for a pure arming walk (WP_MATCHING with no output vector).
   * Returns the number of pages reported. Regions come in ascending order; where a shared walk split the
   * range, two regions may touch at the split (callers merge what touches).
   */
  scan(start: number, end: number, o: ScanOptions, onRegion: RegionCallback | null): number {
    if (this.fd < 0) throw new Error('PagemapScanner used after close()');
    const s = sharer;
    if (s && onRegion && !o.flags && !o.maxPages && end - start >= s.minBytes) {
      const mid = Math.floor((start + (end - start) / 2) / HUGE) * HUGE;
      if (mid > start && mid < end && s.post(this.fd, this.pid, mid, end, o)) {
        let pages: number;
        try {
          pages = this.walk(start, mid, o, onRegion);
        } catch (e) {
          try {
            s.wait(); // the other thread idle again before this throws
          } catch {}
          throw e;
        }
        const theirs = s.wait();
        const r = theirs.regions;
        for (let i = 0; i < theirs.count; i++) {
          pages += (r[i * 3 + 1]! - r[i * 3]!) / PAGE_SIZE;
          onRegion(r[i * 3]!, r[i * 3 + 1]!, r[i * 3 + 2]!);
        }
        return theirs.resumeAt < end ? pages + this.walk(theirs.resumeAt, end, o, onRegion) : pages;
      }
    }
    return this.walk(start, end, o, onRegion);
  }

  private walk(start: number, end: number, o: ScanOptions, onRegion: RegionCallback | null): number {
    let pages = 0;
    let from = start;
    const vec = this.vec;
    for (;;) {
      const { regions: r, walkEnd } = scanOnce(
        this.fd,
        this.arg,
        this.vecAddr,
        onRegion ? this.vecLen : 0,
        from,
        end,
        o,
        this.pid,
      );
      if (!onRegion) return 0;
      let lastEnd = from;
      for (let i = 0; i < r; i++) {
        const k = i * 6;
        const rs = vec[k]! + vec[k + 1]! * TWO32;
        const re = vec[k + 2]! + vec[k + 3]! * TWO32;
        const cat = vec[k + 4]!;
        pages += (re - rs) / PAGE_SIZE;
        onRegion(rs, re, cat);
        lastEnd = re;
      }
      if (r < this.vecLen) return pages;
      if (o.maxPages && pages >= o.maxPages) return pages;
      from = Math.max(walkEnd, lastEnd);
      if (from >= end) return pages;
    }
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
