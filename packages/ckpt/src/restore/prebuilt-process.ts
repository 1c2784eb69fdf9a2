/**
 * A process built ahead of its restore, while the source of a migration still runs: the root's pid
 * cloned, the trampoline in place, the anonymous private memory of each received image set mapped and
 * filled; at the final set, restoreProcess adopts it and only reconciles (restore-process.ts).
 *
 * ```
 * start(pid, preview)      cloneWithPid (a traced copy of the helper) -> trampoline (free in the clone and
 *                          in the preview, with room to park the vdso) -> rseq unregistered -> the helper's
 *                          mappings unmapped (the kernel's [vdso]/[vvar] stay)
 * advance(set n, preview)  VMAs gone from the preview (or changed: start, end, prot): munmap
 *                          new ones: mmap(MAP_FIXED_NOREPLACE, prot + PROT_WRITE, private anonymous),
 *                            filled with every page of set n's chain (a range taken, e.g. by the vdso:
 *                            skipped, the restore maps it)
 *                          kept ones: set n's own pages, and pages gone since zeroed (page-delta.ts)
 *                          -> every VMA holds set n's chain (kept open on the previous one: each
 *                             pagemap is decoded once)
 * adopt(final images)      single-process tree, same pid, the final set chained on the last one built,
 *                          the trampoline and parking area free in the final layout -> { task,
 *                          trampoline, kept: the final mm's VMAs equal to a pre-built one (start, end,
 *                          prot, private anonymous), the chain they hold (open: the final set's chain
 *                          reuses its decoded pagemaps) }
 *                          otherwise: killed, undefined (the restore goes the plain way)
 * kill()                   SIGKILL + reap (safe twice; a no-op once adopted: the restore owns it)
 * ```
 * The process never runs an instruction of its own before the restore detaches it: it is stopped under
 * ptrace with PTRACE_O_EXITKILL (ckpt dying kills it), and its owner (migrate/prebuild.ts) kills it on any
 * failure, cancellation or lost connection.
 *
 * @example
 * using pre = PrebuiltProcess.start(4242, preview);
 * await pre.advance('/srv/mig/1', preview);     // and each later set
 * const r = await restoreProcess({ imagesDir: '/srv/mig/5', prebuilt: pre });
 */
import { realpathSync } from 'node:fs';
import { ImageDir, PageChain, VMA_STATUS, type VmaEntry } from '../images/index.js';
import { readMaps } from '../proc/index.js';
import { MAP, PAGE_SIZE, PROT, RSYS } from '../sys/index.js';
import { fillRuns, isSpecial, type KeptVmas, unmapAllBut } from './address-space.js';
import { RestoreError, restoreErrorFrom } from './errors.js';
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
  readonly mapped: number;
  readonly unmapped: number;
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
const key = (v: { start: number | bigint; end: number | bigint; prot: number }) =>
  `${v.start}-${v.end}-${v.prot}`;

/** Whether `dir`'s parent link leads to `parent`. */
function isParentOf(parent: string, dir: string): boolean {
  const up = ImageDir.open(dir).parent();
  return up !== undefined && realpathSync(up.path) === realpathSync(parent);
}

export class PrebuiltProcess implements Disposable {
  private readonly vmas = new Map<string, VmaPreview>();
  /** The image set whose chain the memory holds, its chain open (pagemaps decoded once, reused below). */
  private filled: string | undefined;
  private held: PageChain | undefined;
  private state: 'building' | 'adopted' | 'dead' = 'building';

  private constructor(
    private readonly task: RemoteTask,
    readonly trampoline: number,
    /** Room reserved after the trampoline to park the vdso and vvar while they move. */
    readonly park: number,
    private readonly fill: 'writev' | 'pread',
  ) {}

  get pid(): number {
    return this.task.pid;
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

  /**
   * Bring the memory to image set `dir` (complete, chained on the last one advanced to) with its
   * preview. Yields to the event loop between slices of the fill. Throws RestoreError.
   */
  async advance(dir: string, preview: readonly VmaPreview[]): Promise<PrebuildStats> {
    if (this.state !== 'building')
      throw new RestoreError('EIO', `the pre-built process ${this.pid} is ${this.state}`);
    const task = this.task;
    const next = new Map(preview.map((v) => [key(v), v]));
    let unmapped = 0;
    for (const [k, v] of this.vmas)
      if (!next.has(k)) {
        task.call(`munmap ${hex(v.start)}`, RSYS.munmap, v.start, v.end - v.start);
        this.vmas.delete(k);
        unmapped++;
      }
    const fresh: VmaPreview[] = [];
    const kept = [...this.vmas.values()];
    for (const [k, v] of next) {
      if (this.vmas.has(k) || this.overlapsReserved(v.start, v.end)) continue;
      const flags = FLAGS | MAP.FIXED_NOREPLACE;
      const r = task.syscall(RSYS.mmap, v.start, v.end - v.start, v.prot | PROT.WRITE, flags, -1, 0);
      if (r === EEXIST) continue; // the clone's vdso/vvar is there: the restore maps it
      if (r !== v.start) throw new RestoreError('EIO', `pre-build: mmap at ${hex(v.start)} gave ${hex(r)}`);
      this.vmas.set(k, v);
      fresh.push(v);
    }
    if (this.filled !== undefined && !isParentOf(this.filled, dir))
      throw new RestoreError('EIO', `pre-build: ${dir} is not chained on ${this.filled}`);
    const old = this.held;
    const chain = new PageChain(ImageDir.open(dir), this.pid, old); // owns the old chain from here
    this.held = chain;
    const runs: DataRun[] = dataRuns(chain, fresh);
    let dropped = 0;
    if (old && kept.length > 0) {
      const delta = pageDelta(chain, kept, old);
      for (const [at, len] of delta.drop)
        task.call(`madvise ${hex(at)}`, RSYS.madvise, at, len, MADV_DONTNEED);
      dropped = delta.drop.length;
      for (const r of delta.fill) runs.push(r); // no spread: a delta has 100k+ runs
    }
    let pages = 0;
    for (let i = 0; i < runs.length; ) {
      const slice: DataRun[] = [];
      let bytes = 0;
      while (i < runs.length && bytes < SLICE) {
        const r = runs[i]!;
        const room = Math.max(1, (SLICE - bytes) / PAGE_SIZE);
        if (r.nrPages > room) {
          // a long run (a first set's contiguous memory) is cut: the slice's bound holds for every run
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
      if (this.state !== 'building')
        throw new RestoreError('EIO', `the pre-built process ${this.pid} was killed`);
    }
    this.filled = dir;
    return { mapped: fresh.length, unmapped, pages, dropped };
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
    for (const v of t.mm.vmas) {
      const anon = (v.status & VMA_STATUS.ANON_PRIVATE) !== 0 && v.shmid === 0n && !isSpecial(v);
      if (anon && v.flags === FLAGS && this.vmas.has(key(v))) vmas.add(v);
    }
    const old = this.held!;
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
