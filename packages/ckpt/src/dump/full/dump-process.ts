/**
 * The prototype of `ckpt dump` (the lead wires collectTaskState and writeTaskImages into the one dump
 * driver): CRIU's full image set for a process and its descendants, restorable by `criu restore`.
 *
 * ```
 * listTree -> findRefusals of each (nothing frozen yet: refuse up front, targets untouched)
 *   -> injectionSite, freeze, findRefusals again (what changed meanwhile), process by process
 *   -> collectTaskState of each (ptrace, injection cured, /proc)
 *   -> pages: planVmas + findPages (+ the whole vdso) + PageReader -> LocalSink (pagemap-PID.img, pages-N.img)
 *   -> writeTaskImages -> inventory (img_version 2) -> commit
 *   -> SIGKILL while frozen (default, as CRIU) | thaw (leaveRunning)
 * ```
 * Children that appear after the tree was listed are not caught (the one driver's tree freeze is).
 * Any failure aborts the directory (INCOMPLETE marker, no inventory) and thaws the target.
 *
 * @example
 * await fullDumpProcess({ pid, imagesDir: '/ckpt/final' }); // the process is gone; criu restore -D /ckpt/final
 */
import { ImageDir } from '../../images/index.js';
import { findPages, PageRanges, PageReader, planVmas } from '../../mem/index.js';
import { readMaps } from '../../proc/index.js';
import { type FrozenProcess, freeze, injectionSite } from '../../ptrace/index.js';
import { kill, SIG } from '../../sys/index.js';
import { LocalSink } from '../../xfer/index.js';
import { DumpError, dumpErrorFrom } from '../errors.js';
import { writePlannedPages } from '../page-plan.js';
import { listTree } from '../tree.js';
import { findRefusals } from './refuse.js';
import { collectTaskState, type TaskState } from './task-state.js';
import { withWholeVdso } from './vdso-pages.js';
import { writeTaskImages } from './write-images.js';

export interface FullDumpOptions {
  readonly pid: number;
  readonly imagesDir: string;
  /** Thaw the process after the dump instead of killing it. */
  readonly leaveRunning?: boolean;
}

export interface FullDumpResult {
  /** Root first. */
  readonly states: readonly TaskState[];
  readonly pagesWritten: number;
}

/** Dump process `pid` and its descendants in full (see the module comment). Throws DumpError (ENOTSUP lists the refusals). */
export async function fullDumpProcess(o: FullDumpOptions): Promise<FullDumpResult> {
  const refuse = (lines: string[]) => {
    if (lines.length > 0) throw new DumpError('ENOTSUP', `cannot dump:\n${lines.join('\n')}`);
  };
  let pids: number[];
  const sites = new Map<number, number | undefined>();
  try {
    pids = listTree(o.pid);
    refuse(pids.flatMap((p) => findRefusals(p)));
    for (const p of pids) sites.set(p, injectionSite(p));
  } catch (e) {
    throw e instanceof DumpError ? e : dumpErrorFrom(e, o.pid);
  }
  const frozen: FrozenProcess[] = [];
  let dir: ImageDir | undefined;
  try {
    for (const p of pids) frozen.push(freeze(p));
    refuse(pids.flatMap((p) => findRefusals(p, process.pid)));
    const states = frozen.map((f) => collectTaskState(f, { site: sites.get(f.pid) }));
    dir = ImageDir.create(o.imagesDir);
    const sink = new LocalSink(dir, { directIo: false });
    using reader = new PageReader(o.pid);
    let pagesWritten = 0;
    for (const p of pids) {
      const maps = readMaps(p);
      const found = findPages(p, planVmas(maps));
      await sink.begin(p);
      const plan = { data: withWholeVdso(found.ranges, maps), holes: new PageRanges() };
      pagesWritten += (await writePlannedPages(reader, sink, plan, { pid: p })).pagesRead;
      await sink.end();
    }
    dir.setInventory(writeTaskImages(dir, states));
    dir.commit();
    if (!o.leaveRunning) {
      for (const p of pids) kill(p, SIG.SIGKILL);
      // reap the threads we trace (a detach could race with their exit and leave zombies that hold the
      // pids a restore needs)
      for (const f of frozen) f.markGone();
    }
    return { states, pagesWritten };
  } catch (e) {
    dir?.abort(`full dump failed: ${(e as Error).message}`);
    throw e instanceof DumpError ? e : dumpErrorFrom(e, o.pid);
  } finally {
    for (const f of frozen) f.thaw();
  }
}
