/**
 * A process built ahead of its restore, while the source of a migration still runs: the root's pid
 * cloned, the trampoline in place, the anonymous private memory of each received image set held in it;
 * at the final set, restoreProcess adopts it and only reconciles (restore-process.ts).
 *
 * ```
 * start(pid, preview)      cloneWithPid (a traced copy of the helper) -> trampoline (free in the clone and
 *                          in the preview, with room to park the vdso) -> rseq unregistered -> the helper's
 *                          mappings unmapped (the kernel's [vdso]/[vvar] stay)
 * prepare(preview)         before set n's pages arrive: the held ranges become the preview's VMAs (less
 *                          the reserved area): ranges gone are unmapped, new ones mapped (MAP_FIXED_NOREPLACE,
 *                          prot + PROT_WRITE, private anonymous; a range taken, e.g. by the vdso: not held)
 *                          and filled from the chain held so far -> `memory`, the session's writer: set n's
 *                          pages of held ranges go straight into the process (PE_LAZY in its pagemap)
 * advance(set n)           pages gone since zeroed, pages of held ranges that came as files filled
 *                          (page-delta.ts) -> the held ranges hold set n's chain (kept open on the
 *                          previous one: each pagemap is decoded once)
 * adopt(final images)      (the final set prepared too: its held pages went in as it arrived)
 *                          single-process tree, same pid, the final set chained on the last one built,
 *                          the trampoline and parking area free in the final layout -> { task,
 *                          trampoline, kept: the final mm's private anonymous VMAs (MAP_NORESERVE or not:
 *                          the pre-build's mapping stays) inside the held ranges (one partly inside: the
 *                          rest mapped and filled from the files now), the chain they hold (open: the
 *                          final set's chain reuses its decoded pagemaps) }
 *                          otherwise: killed, undefined (the restore goes the plain way, which fails
 *                          where it needs pages held only here: ImageError HELD)
 * kill()                   SIGKILL + reap (safe twice; a no-op once adopted: the restore owns it)
 * ```
 * The pages of the held ranges are never written to disk on this side, nor read back: one copy from the
 * received frames into the process (memory touched for the first time is what costs on this kind of VM).
 * The process never runs an instruction of its own before the restore detaches it: it is stopped under
 * ptrace with PTRACE_O_EXITKILL (ckpt dying kills it), and its owner (migrate/prebuild.ts) kills it on any
 * failure, cancellation or lost connection.
 *
 * @example
 * using pre = PrebuiltProcess.start(4242, preview);
 * const held = pre.prepare(preview);            // then the set's session writes into `held`
 * await pre.advance('/srv/mig/1');              // and each later set
 * const r = await restoreProcess({ imagesDir: '/srv/mig/5', prebuilt: pre });
 */
import { realpathSync } from 'node:fs';
import { ImageDir, PageChain, VMA_STATUS, type VmaEntry } from '../images/index.js';
import {
  type AddressRange,
  intersectRanges,
  normalizeRanges,
  subtractRanges,
  unionRanges,
} from '../mem/index.js';
import { readMaps } from '../proc/index.js';
import { MAP, PAGE_SIZE, PROT, RSYS } from '../sys/index.js';
import { fillRuns, isSpecial, type KeptVmas, unmapAllBut } from './address-space.js';
import { RestoreError, restoreErrorFrom } from './errors.js';
import { HeldMemory } from './held-memory.js';
import { cloneWithPid } from './helper-process.js';
import { type DataRun, dataRuns, MADV_DONTNEED, pageDelta } from './page-delta.js';
import { RemoteTask } from './remote-task.js';
import type { TaskImages } from './task-images.js';
import { unregisterRseq } from './task-state.js';
import { findTrampoline, mapTrampoline, TRAMPOLINE_SIZE } from './trampoline.js';

/** A VMA of the source's root as /proc/PID/maps shows it (private anonymous memory only). */
export interface VmaPreview {
  readonly start: number;
  readonly end: number;
  /** PROT_* bits. */
  readonly prot: number;
}

export interface PrebuildStats {
  /** Ranges mapped and unmapped by the set's prepare(). */
  readonly mapped: number;
  readonly unmapped: number;
  /** Pages written into the process: by the set's session (held), and filled from files. */
  readonly held: number;
  readonly pages: number;
  readonly dropped: number;
}

/** What restoreProcess takes over from an adopted pre-built process. */
export interface AdoptedProcess {
  readonly task: RemoteTask;
  readonly trampoline: number;
  readonly kept: KeptVmas;
}

/** How the pre-built VMAs are mapped; a final VMA is kept only with exactly these flags. */
const FLAGS = MAP.PRIVATE | MAP.ANONYMOUS;
/**
 * Fill this much, then yield to the event loop (frames keep coming in meanwhile). A slice held each round
 * trip of the next iteration (SET, parent queries, SET_DONE -> SET_OK) behind it: with a first set's
 * contiguous memory as one slice a 21-page iteration took 500 ms (20 ms without a pre-build); 16 MiB
 * slices (~15 ms of fill) 164 ms. Smaller ones starve the pre-build instead: with 4 MiB a 4 GiB first
 * set took 55 s to pre-build (13 s in one piece), its slices waiting behind the next sets' frames.
 */
const SLICE = 16 << 20;
const EEXIST = -17;
const hex = (n: number) => `0x${n.toString(16)}`;

/** Whether `dir`'s parent link leads to `parent`. */
function isParentOf(parent: string, dir: string): boolean {
  const up = ImageDir.open(dir).parent();
  return up !== undefined && realpathSync(up.path) === realpathSync(parent);
}

export class PrebuiltProcess implements Disposable {
  /** The held ranges and the writer sessions put their pages through. */
  readonly memory: HeldMemory;
  /** The image set whose chain the memory holds, its chain open (pagemaps decoded once, reused below). */
  private filled: string | undefined;
  private held: PageChain | undefined;
  /** prepare()'s counts, for the next advance(). */
  private prepared: { mapped: number; unmapped: number; pages: number } | undefined;
  private state: 'building' | 'adopted' | 'dead' = 'building';

  private constructor(
    private readonly task: RemoteTask,
    readonly trampoline: number,
    /** Room reserved after the trampoline to park the vdso and vvar while they move. */
    readonly park: number,
    private readonly fill: 'writev' | 'pread',
  ) {
    this.memory = new HeldMemory(task.pid);
  }

  get pid(): number {
    return this.task.pid;
  }

  /** The chain the held memory holds (the last set advanced to), open: lent, not to be closed. */
  get chain(): PageChain | undefined {
    return this.held;
  }

  /**
   * Clone `pid` and prepare it (see the module comment). Throws RestoreError (EBUSY: the pid is taken);
   * nothing is left on failure.
   */
  static start(
    pid: number,
    preview: readonly VmaPreview[],
    o: { shellJob?: boolean; pageFill?: 'writev' | 'pread' } = {},
  ): PrebuiltProcess {
    const clone = cloneWithPid(pid, o.shellJob === true);
    const task = new RemoteTask(pid, clone.syscallAt);
    try {
      const live = readMaps(pid);
      const special = live.filter((v) => /^\[(vdso|vvar|vvar_vclock)\]$/.test(v.path));
      const park = special.reduce((n, v) => n + v.end - v.start, 0);
      const ranges = (xs: readonly { start: number; end: number }[]) =>
        xs.map((v) => [v.start, v.end] as const);
      const tramp = findTrampoline([ranges(live), ranges(preview)], park);
      mapTrampoline(task, tramp);
      unregisterRseq(task);
      const keep: [number, number][] = [[tramp, tramp + TRAMPOLINE_SIZE]];
      for (const v of special) keep.push([v.start, v.end]);
      unmapAllBut(task, keep);
      task.flush(); // nothing queued outlives a step: the session writes into the process next
      return new PrebuiltProcess(task, tramp, park, o.pageFill ?? 'writev');
    } catch (e) {
      task.kill();
      throw restoreErrorFrom(e);
    }
  }

  /** The reserved area [trampoline - a page, trampoline + TRAMPOLINE_SIZE + park + a page). */
  private overlapsReserved(start: number, end: number): boolean {
    return (
      start < this.trampoline + TRAMPOLINE_SIZE + this.park + PAGE_SIZE && end > this.trampoline - PAGE_SIZE
    );
  }

  private alive(): void {
    if (this.state !== 'building')
      throw new RestoreError('EIO', `the pre-built process ${this.pid} is ${this.state}`);
  }

  /**
   * Before the pages of the next set arrive: hold its preview's VMAs (see the module comment). Returns
   * the writer for its session. Throws RestoreError.
   */
  prepare(preview: readonly VmaPreview[]): HeldMemory {
    this.alive();
    if (this.prepared) throw new RestoreError('EIO', 'pre-build: prepare() twice without advance()');
    const task = this.task;
    const wanted = normalizeRanges(preview.filter((v) => !this.overlapsReserved(v.start, v.end)));
    const was = this.memory.ranges;
    const gone = subtractRanges(was, wanted);
    for (const r of gone) task.call(`munmap ${hex(r.start)}`, RSYS.munmap, r.start, r.end - r.start);
    const added: AddressRange[] = [];
    const fresh = subtractRanges(wanted, was);
    for (const v of preview) {
      for (const r of intersectRanges(fresh, [v])) {
        // a PROT_NONE reservation (V8's, say: gigabytes) is not charged to the commit limit here either
        const flags = FLAGS | MAP.FIXED_NOREPLACE | (v.prot === 0 ? MAP.NORESERVE : 0);
        const got = task.syscall(RSYS.mmap, r.start, r.end - r.start, v.prot | PROT.WRITE, flags, -1, 0);
        if (got === EEXIST) continue; // the clone's vdso/vvar is there: the restore maps it
        if (got !== r.start)
          throw new RestoreError('EIO', `pre-build: mmap at ${hex(r.start)} gave ${hex(got)}`);
        added.push(r);
      }
    }
    const newly = normalizeRanges(added);
    // what the chain held so far has there (pages that came as files: the range was not held then)
    const pages = this.held
      ? fillRuns(task, dataRuns(this.held, newly), { pageFill: this.fill, trampoline: this.trampoline }).pages
      : 0;
    this.memory.ranges = unionRanges(intersectRanges(was, wanted), newly);
    this.prepared = { mapped: newly.length, unmapped: gone.length, pages };
    return this.memory;
  }

  /**
   * Bring the held memory to image set `dir` (complete, chained on the last one advanced to, its pages
   * received through `memory` since prepare()). Yields to the event loop between slices of a fill from
   * files. Throws RestoreError.
   */
  async advance(dir: string): Promise<PrebuildStats> {
    this.alive();
    const task = this.task;
    const prep = this.prepared ?? { mapped: 0, unmapped: 0, pages: 0 };
    this.prepared = undefined;
    this.memory.flush();
    if (this.filled !== undefined && !isParentOf(this.filled, dir))
      throw new RestoreError('EIO', `pre-build: ${dir} is not chained on ${this.filled}`);
    const old = this.held;
    const chain = new PageChain(ImageDir.open(dir), this.pid, old); // owns the old chain from here
    this.held = chain;
    const heldRanges = this.memory.ranges;
    const runs: DataRun[] = [];
    let dropped = 0;
    if (old) {
      const delta = pageDelta(chain, heldRanges, old);
      for (const [at, len] of delta.drop)
        task.queue(`madvise ${hex(at)}`, RSYS.madvise, [at, len, MADV_DONTNEED]);
      task.flush();
      dropped = delta.drop.length;
      for (const r of delta.fill) runs.push(r); // no spread: a delta has 100k+ runs
    } else {
      for (const r of heldRanges)
        for (const loc of chain.locate(r.start, (r.end - r.start) / PAGE_SIZE))
          if (loc.where === 'data') runs.push(loc);
    }
    let pages = prep.pages;
    for (let i = 0; i < runs.length; ) {
      const slice: DataRun[] = [];
      let bytes = 0;
      while (i < runs.length && bytes < SLICE) {
        const r = runs[i]!;
        const room = Math.max(1, (SLICE - bytes) / PAGE_SIZE);
        if (r.nrPages > room) {
          // a long run is cut: the slice's bound holds for every run
          slice.push({ ...r, nrPages: room });
          runs[i] = {
            ...r,
            vaddr: r.vaddr + room * PAGE_SIZE,
            offset: r.offset + room * PAGE_SIZE,
            nrPages: r.nrPages - room,
          };
          bytes += room * PAGE_SIZE;
          break;
        }
        slice.push(r);
        bytes += r.nrPages * PAGE_SIZE;
        i++;
      }
      pages += fillRuns(task, slice, { pageFill: this.fill, trampoline: this.trampoline }).pages;
      await new Promise((r) => setImmediate(r));
      this.alive();
    }
    this.filled = dir;
    const held = this.memory.pages;
    this.memory.pages = 0;
    return { mapped: prep.mapped, unmapped: prep.unmapped, held, pages, dropped };
  }

  /**
   * Hand the process to the restore of `images` (see the module comment): what it keeps, or undefined
   * (and the process killed) when the images do not fit it; `why` receives the reason.
   */
  adopt(images: readonly TaskImages[], why: (reason: string) => void = () => {}): AdoptedProcess | undefined {
    const refuse = (reason: string) => {
      why(reason);
      this.kill();
      return undefined;
    };
    if (this.state !== 'building' || this.filled === undefined)
      return refuse(`nothing pre-built (${this.state})`);
    const t = images[0]!;
    if (images.length !== 1)
      return refuse(`a tree of ${images.length} processes: the root only is pre-built, so the plain restore`);
    if (t.pid !== this.pid) return refuse(`pid ${t.pid} restored, ${this.pid} pre-built`);
    const clash = t.mm.vmas.find((v) => this.overlapsReserved(Number(v.start), Number(v.end)));
    if (clash) return refuse(`a mapping at ${hex(Number(clash.start))} where the trampoline is`);
    if (!isParentOf(this.filled, t.dir.path)) return refuse(`${t.dir.path} is not chained on ${this.filled}`);
    const vmas = new Set<VmaEntry>();
    const old = this.held!;
    for (const v of t.mm.vmas) {
      const anon = (v.status & VMA_STATUS.ANON_PRIVATE) !== 0 && v.shmid === 0n && !isSpecial(v);
      const start = Number(v.start);
      const end = Number(v.end);
      if (!anon || (v.flags & ~MAP.NORESERVE) !== FLAGS) continue;
      if (!this.memory.covers(start, end)) {
        // partly held (the heap grew since the last set, say): the rest mapped and filled now, from the
        // sets' files (never held, its pages are there); not held at all: the restore maps it
        const rest = subtractRanges([{ start, end }], this.memory.ranges);
        if (rest.length === 1 && rest[0]!.start === start && rest[0]!.end === end) continue;
        try {
          for (const r of rest) {
            const flags = FLAGS | MAP.FIXED_NOREPLACE;
            const got = this.task.syscall(
              RSYS.mmap,
              r.start,
              r.end - r.start,
              v.prot | PROT.WRITE,
              flags,
              -1,
              0,
            );
            if (got !== r.start)
              return refuse(`mmap at ${hex(r.start)} to extend a held range gave ${hex(got)}`);
          }
          fillRuns(this.task, dataRuns(old, rest), { pageFill: this.fill, trampoline: this.trampoline });
        } catch (e) {
          return refuse(
            `extending the held range at ${hex(start)}: ${e instanceof Error ? e.message : String(e)}`,
          );
        }
        this.memory.ranges = unionRanges(this.memory.ranges, rest);
      }
      vmas.add(v);
    }
    this.memory.flush();
    this.prepared = undefined; // the final set's prepare: its held pages are the restore's (PE_LAZY: kept)
    this.held = undefined;
    this.state = 'adopted';
    return { task: this.task, trampoline: this.trampoline, kept: { vmas, old } };
  }

  /** SIGKILL and reap it, unless the restore adopted it. Safe twice. */
  kill(): void {
    if (this.state !== 'building') return;
    this.state = 'dead';
    this.held?.close();
    this.held = undefined;
    this.task.kill();
  }

  [Symbol.dispose](): void {
    this.kill();
  }
}
