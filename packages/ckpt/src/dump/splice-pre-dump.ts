/**
 * A splice-mode pre-dump, the algorithm of CRIU's default `criu pre-dump`, kept beside ours (read mode,
 * pre-dump.ts) so that both can be measured in the same run: the same driver (pipeline.ts) with the splice
 * page source (splice-source.ts), always frozen.
 *
 * ```
 * prepare   raise RLIMIT_NOFILE, injection site, DIR, the page session                (target running)
 * freeze    ptrace/freezeTree (the root only; or the caller's `frozen` tree)
 * capture   /proc/PID/maps -> planVmas -> findPages -> infect -> vmsplice into pipes -> cure
 * thaw                                                  <- the target's stopped time ends here
 * finish    the pipes drained into the session (each closed when written), stats-dump (with page_pipes,
 *           page_pipe_bufs), irmap-cache, inventory.img (pre_dump_mode = 1, splice)
 * ```
 * Unlike read mode the target is stopped for the scan AND the whole vmsplice, and every dumped page stays
 * pinned in a pipe until it is written out after the thaw (see mem/splice.ts for the limits). One process
 * by default: descendants are not dumped in this mode unless `tree: true`.
 *
 * Failure: the target is cured and thawed (or found gone), every pipe is closed, the image set aborted
 * (the directory gets an INCOMPLETE marker, no inventory) and a DumpError (ESRCH when the target exited)
 * is thrown.
 *
 * @example
 * const r = await preDumpSplice({ pid, imagesDir: '/ckpt/pre1' });
 * console.log(r.frozenTime, r.splice.pipes, r.splice.peakPipeBytes);
 */
import type { FrozenTree } from '../ptrace/index.js';
import type { SpliceResult } from './page-source.js';
import { DumpPipeline } from './pipeline.js';
import { type PreDumpOptions, runPreDump } from './pre-dump.js';
import { SpliceSource, type SpliceSourceOptions } from './splice-source.js';
import type { PreDumpResult, TaskResult } from './stats.js';

export type { SpliceResult } from './page-source.js';

/**
 * Options of preDumpSplice: those of preDump that apply (no buffer size, no parent: it always freezes and
 * dumps in full), and the pipes'.
 */
export interface SplicePreDumpOptions
  extends Pick<
      PreDumpOptions,
      | 'pid'
      | 'imagesDir'
      | 'target'
      | 'sink'
      | 'pagesMethod'
      | 'logger'
      | 'onProgress'
      | 'signal'
      | 'afterBuffer'
      | 'afterCommit'
    >,
    Omit<SpliceSourceOptions, 'signal' | 'afterBuffer'> {
  /** A tree the caller froze (and thaws); otherwise the root is frozen here and thawed after the splice. */
  readonly frozen?: FrozenTree;
  /** Dump the descendants too (default false, as before: the CLI says so). */
  readonly tree?: boolean;
}

/** The one process of a splice pre-dump: a TaskResult, always 'full'. */
export type SpliceTaskResult = TaskResult;

/**
 * The statistics of a splice pre-dump: preDump's, with the pipes' figures always there.
 *
 * @example
 * const r = await preDumpSplice({ pid, imagesDir });
 * r.frozenTime === r.stoppedTime; // the target is stopped for the scan and the whole vmsplice
 */
export type SplicePreDumpResult = PreDumpResult & { readonly splice: SpliceResult };

/** Run one splice-mode pre-dump. Throws DumpError for expected failures (see the module comment). */
export async function preDumpSplice(o: SplicePreDumpOptions): Promise<SplicePreDumpResult> {
  const tree = o.tree ?? false;
  const p = await DumpPipeline.prepare(
    { ...o, tree, what: 'splice pre-dump' },
    (pid) => new SpliceSource(pid, { ...o, signal: o.signal, afterBuffer: o.afterBuffer }),
  );
  const r = await runPreDump(p, { ...o, tree, freeze: o.frozen === undefined });
  if (!r.splice) throw new Error('splice pre-dump: the splice source gave no pipe figures');
  return { ...r, splice: r.splice };
}
