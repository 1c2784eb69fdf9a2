/**
 * Proof that a chain restores exactly the target (the demo's check and the chain tests'): every page of
 * a chain of pre-dumps, resolved through its PE_PARENT holes, compared with the memory of the target read while it is still frozen (call it from preDump's `afterCommit`
 * hook of the chain's frozen end: the target cannot change in between).
 *
 * ```
 * for each dumpable VMA of the target (mem/planVmas):
 *   PageChain.locate(vma) -> runs of pages: 'data' (in run/k/pages-N.img at depth d) or 'absent'
 *   'data' runs: pread the image | process_vm_readv the target -> compare page by page
 * present pages of the target (mem/findPages) that the chain does not hold -> `missing`
 * ```
 * An injector's scratch mapping signed by this process (one left standing in the caller's window) is
 * not the target's: left out.
 * What the kernel itself rewrites in a thread's memory whenever the thread returns to user space on
 * another CPU (each thread's rseq area: cpu_id_start, cpu_id, node_id, mm_cid; rseq_cs, which the kernel
 * clears) is not the dump's to keep still: bytes there that differ count in `kernelWritten`, not as a
 * mismatch. The areas are asked of the kernel (PTRACE_GET_RSEQ_CONFIGURATION) for threads we have
 * stopped; a target not frozen by the caller has none known, and every difference counts.
 *
 * @example
 * const c = checkChain(pid, '/tmp/demo/run/4');
 * c.mismatched === 0 && c.missing === 0; // the chain restores exactly what the target holds
 */
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { ImageDir, PageChain } from '../images/index.js';
import { findPages, planVmas } from '../mem/index.js';
import { listThreads, readMaps } from '../proc/index.js';
import { findScratchMappings } from '../ptrace/index.js';
import { addressOf, getRseqConfig, IovecArray, PAGE_SIZE, processVmReadv } from '../sys/index.js';

/** What checkChain found. */
export interface ChainCheckResult {
  /** Pages compared (every page the chain holds data for). */
  readonly pages: number;
  /** Of those, pages whose image differs from the target's memory. */
  readonly mismatched: number;
  /** Present pages of the target that no image set of the chain holds. */
  readonly missing: number;
  /** Pages whose data came from a parent (depth > 0), i.e. through PE_PARENT holes. */
  readonly fromParents: number;
  /** Up to 3 mismatched addresses, for the message. */
  readonly firstBad: readonly number[];
  /** Pages that differed only in bytes the kernel rewrites on its own (rseq areas): not mismatched. */
  readonly kernelWritten: number;
}

/** [start, end) of each stopped thread's registered rseq area (none for threads not stopped by us). */
function rseqAreas(pid: number): Array<readonly [number, number]> {
  const out: Array<readonly [number, number]> = [];
  let tids: number[];
  try {
    tids = listThreads(pid);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const c = getRseqConfig(tid);
      if (c && c.size > 0) out.push([Number(c.pointer), Number(c.pointer) + c.size]);
    } catch {
      /* not stopped by us (ESRCH): nothing known */
    }
  }
  return out;
}

/** Whether the pages at `a` of `mem` and `img` (page `vaddr`) differ only inside `areas`. */
function sameButAreas(
  mem: Buffer,
  img: Buffer,
  a: number,
  vaddr: number,
  areas: ReadonlyArray<readonly [number, number]>,
): boolean {
  let touched = false;
  for (const [start, end] of areas) {
    const from = Math.max(start, vaddr);
    const to = Math.min(end, vaddr + PAGE_SIZE);
    if (from >= to) continue;
    img.copy(mem, a + (from - vaddr), a + (from - vaddr), a + (to - vaddr));
    touched = true;
  }
  return touched && mem.compare(img, a, a + PAGE_SIZE, a, a + PAGE_SIZE) === 0;
}

/** Pages compared per batch; remote runs per process_vm_readv call. */
const BATCH_PAGES = 256;
const BATCH_RUNS = 1024;
/** Read-ahead window over a pages file: the images were written with O_DIRECT (not in the page cache). */
const WINDOW = 4 << 20;

/**
 * Sequential reads of one pages-N.img: runs are asked for in increasing offsets (the chain is walked in
 * address order), so one large read serves many small runs.
 */
class PagesWindow {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(WINDOW);
  private start = 0;
  private end = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'r');
  }

  /** Copy `len` bytes at `offset` into `dst` at `at`; returns the bytes the file had. */
  copy(offset: number, len: number, dst: Buffer, at: number): number {
    let done = 0;
    while (done < len) {
      const o = offset + done;
      if (o < this.start || o >= this.end) {
        this.start = o;
        this.end = o + readSync(this.fd, this.buf, 0, WINDOW, o);
        if (this.end === o) return done;
      }
      const n = Math.min(len - done, this.end - o);
      this.buf.copy(dst, at + done, o - this.start, o - this.start + n);
      done += n;
    }
    return done;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * Read the pages files of the image sets `dirs` once, so that they are in the page cache (they were
 * written with O_DIRECT): a check run later reads memory instead of the disk, and keeps the target's
 * freeze short. Returns the bytes read.
 *
 * @example
 * prefetchPages(['/tmp/demo/run/1', '/tmp/demo/run/2']); // 301989888
 */
export function prefetchPages(dirs: readonly string[]): number {
  const buf = Buffer.alloc(WINDOW);
  let bytes = 0;
  for (const dir of dirs) {
    for (const name of readdirSync(dir)) {
      if (!/^pages-\d+\.img$/.test(name)) continue;
      const fd = openSync(join(dir, name), 'r');
      try {
        for (let pos = 0, n = 1; n > 0; pos += n) {
          n = readSync(fd, buf, 0, WINDOW, pos);
          bytes += n;
        }
      } finally {
        closeSync(fd);
      }
    }
  }
  return bytes;
}

/**
 * Compare the chain ending at `dir` with the memory of `pid` (which should be frozen); `onProgress` gets
 * the pages compared so far of about `total`.
 */
export function checkChain(
  pid: number,
  dir: string,
  onProgress?: (done: number, total: number) => void,
): ChainCheckResult {
  // an injection of this very process left standing in the window (a tree killed after the dump keeps
  // its last one uncured: dump/full/injected-state.ts) is ours, not the target's memory
  const ours = findScratchMappings(pid).filter((m) => m.tracer === process.pid);
  const maps = readMaps(pid).filter((v) => !ours.some((m) => v.start < m.end && m.start < v.end));
  const plan = planVmas(maps);
  const areas = rseqAreas(pid);
  let kernelWritten = 0;
  const present = findPages(pid, plan).ranges;
  using chain = new PageChain(ImageDir.open(dir), pid);
  let missing = 0;
  let total = 0;
  for (let i = 0; i < present.length; i++) {
    const start = present.starts[i]!;
    for (const l of chain.locate(start, (present.ends[i]! - start) / PAGE_SIZE)) {
      if (l.where === 'absent') missing += l.nrPages;
      else total += l.nrPages;
    }
  }
  const mem = Buffer.alloc(BATCH_PAGES * PAGE_SIZE);
  const img = Buffer.alloc(BATCH_PAGES * PAGE_SIZE);
  const local = new IovecArray(1);
  const remote = new IovecArray(BATCH_RUNS);
  const files = new Map<string, PagesWindow>();
  /** Start address of each page of the batch. */
  const vaddrs: number[] = [];
  let imgBytes = 0;
  let pages = 0;
  let mismatched = 0;
  let fromParents = 0;
  const firstBad: number[] = [];

  const flush = () => {
    if (vaddrs.length === 0) return;
    local.clear();
    local.push(addressOf(mem), vaddrs.length * PAGE_SIZE);
    // a frozen target's present pages are all readable; a short read counts its missing pages as bad
    const got = processVmReadv(pid, local, remote);
    for (let p = 0; p < vaddrs.length; p++) {
      const a = p * PAGE_SIZE;
      const same =
        a + PAGE_SIZE <= got &&
        a + PAGE_SIZE <= imgBytes &&
        mem.compare(img, a, a + PAGE_SIZE, a, a + PAGE_SIZE) === 0;
      if (!same && a + PAGE_SIZE <= got && a + PAGE_SIZE <= imgBytes) {
        if (sameButAreas(mem, img, a, vaddrs[p]!, areas)) {
          kernelWritten++;
          continue;
        }
      }
      if (!same) {
        mismatched++;
        if (firstBad.length < 3) firstBad.push(vaddrs[p]!);
      }
    }
    pages += vaddrs.length;
    onProgress?.(Math.min(pages, total), Math.max(pages, total));
    vaddrs.length = 0;
    remote.clear();
    imgBytes = 0;
  };

  try {
    for (const d of plan.dump) {
      for (const l of chain.locate(d.vma.start, (d.vma.end - d.vma.start) / PAGE_SIZE)) {
        if (l.where !== 'data') continue;
        let file = files.get(l.pagesPath);
        if (file === undefined) {
          file = new PagesWindow(l.pagesPath);
          files.set(l.pagesPath, file);
        }
        if (l.depth > 0) fromParents += l.nrPages;
        for (let off = 0; off < l.nrPages; ) {
          if (vaddrs.length === BATCH_PAGES || remote.length === BATCH_RUNS) flush();
          const n = Math.min(BATCH_PAGES - vaddrs.length, l.nrPages - off);
          const at = vaddrs.length * PAGE_SIZE;
          const want = n * PAGE_SIZE;
          const got = file.copy(l.offset + off * PAGE_SIZE, want, img, at);
          // a short image file leaves imgBytes at the first page it lacks: those pages count as bad
          if (imgBytes === at) imgBytes = at + got;
          remote.push(l.vaddr + off * PAGE_SIZE, want);
          for (let p = 0; p < n; p++) vaddrs.push(l.vaddr + (off + p) * PAGE_SIZE);
          off += n;
        }
      }
    }
    flush();
  } finally {
    for (const f of files.values()) f.close();
  }
  return { pages, mismatched, missing, fromParents, firstBad, kernelWritten };
}
