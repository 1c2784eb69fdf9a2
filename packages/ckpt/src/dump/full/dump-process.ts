/**
 * A single-process full dump, the prototype of `ckpt dump` (the lead wires collectTaskState and
 * writeTaskImages into the tree driver): CRIU's full image set for one process, restorable by
 * `criu restore`.
 *
 * ```
 * findRefusals (nothing frozen yet: refuse up front, target untouched)
 *   -> injectionSite -> freeze -> findRefusals again (what changed meanwhile)
 *   -> collectTaskState (ptrace, injection cured, /proc)
 *   -> pages: planVmas + findPages + PageReader -> LocalSink (pagemap-PID.img, pages-1.img)
 *   -> writeTaskImages -> inventory (img_version 2) -> commit
 *   -> SIGKILL while frozen (default, as CRIU) | thaw (leaveRunning)
 * ```
 * Any failure aborts the directory (INCOMPLETE marker, no inventory) and thaws the target.
 *
 * @example
 * await fullDumpProcess({ pid, imagesDir: '/ckpt/final' }); // the process is gone; criu restore -D /ckpt/final
 */
import { ImageDir } from '../../images/index.js';
import { findPages, PageRanges, PageReader, planVmas } from '../../mem/index.js';
import { readMaps } from '../../proc/index.js';
import { freeze, injectionSite } from '../../ptrace/index.js';
import { kill, SIG } from '../../sys/index.js';
import { LocalSink } from '../../xfer/index.js';
import { DumpError, dumpErrorFrom } from '../errors.js';
import { writePlannedPages } from '../page-plan.js';
import { findRefusals } from './refuse.js';
import { collectTaskState, type TaskState } from './task-state.js';
import { writeTaskImages } from './write-images.js';

export interface FullDumpOptions {
  readonly pid: number;
  readonly imagesDir: string;
  /** Thaw the process after the dump instead of killing it. */
  readonly leaveRunning?: boolean;
}

export interface FullDumpResult {
  readonly state: TaskState;
  readonly pagesWritten: number;
}

/** Dump process `pid` in full (see the module comment). Throws DumpError (ENOTSUP lists the refusals). */
export async function fullDumpProcess(o: FullDumpOptions): Promise<FullDumpResult> {
  const refuse = (lines: string[]) => {
    if (lines.length > 0) throw new DumpError('ENOTSUP', `cannot dump:\n${lines.join('\n')}`);
  };
  let site: number | undefined;
  try {
    refuse(findRefusals(o.pid));
    site = injectionSite(o.pid);
  } catch (e) {
    throw e instanceof DumpError ? e : dumpErrorFrom(e, o.pid);
  }
  let frozen: ReturnType<typeof freeze>;
  try {
    frozen = freeze(o.pid);
  } catch (e) {
    throw dumpErrorFrom(e, o.pid);
  }
  let dir: ImageDir | undefined;
  try {
    refuse(findRefusals(o.pid, process.pid));
    const state = collectTaskState(frozen, { site });
    dir = ImageDir.create(o.imagesDir);
    const sink = new LocalSink(dir, { directIo: false });
    const found = findPages(o.pid, planVmas(readMaps(o.pid)));
    using reader = new PageReader(o.pid);
    await sink.begin(o.pid);
    const st = await writePlannedPages(
      reader,
      sink,
      { data: found.ranges, holes: new PageRanges() },
      { pid: o.pid },
    );
    await sink.end();
    dir.setInventory(writeTaskImages(dir, [state]));
    dir.commit();
    if (!o.leaveRunning) {
      kill(o.pid, SIG.SIGKILL);
      // reap the threads we trace (a detach could race with their exit and leave zombies that hold the
      // pids a restore needs)
      frozen.markGone();
    }
    return { state, pagesWritten: st.pagesRead };
  } catch (e) {
    dir?.abort(`full dump failed: ${(e as Error).message}`);
    throw e instanceof DumpError ? e : dumpErrorFrom(e, o.pid);
  } finally {
    frozen.thaw();
  }
}
