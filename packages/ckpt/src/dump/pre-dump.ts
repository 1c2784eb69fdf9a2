/**
 * A read-mode pre-dump of a process tree, as `criu pre-dump --pre-dump-mode=read` but with the target left
 * running (unless frozen): DumpPipeline (pipeline.ts) driving the read page source (read-source.ts).
 *
 * ```
 * prepare    parent chain, tracking session, the read buffer, DIR, the page session     (target running)
 * [freeze]   freezeForWindow (freeze-window.ts): the pre-copy passes (with a parent), then the whole tree
 *            frozen, re-listed until stable                      (`freeze`; or the caller's `frozen`)
 * capture    per process: maps -> planVmas -> collect/findPages -> process_vm_readv -> page session
 *            (a page server: one session for the whole tree), end tracking        (the frozen window;
 *            frozen, the pages go into memory, up to `holdCap`: HeldPages)
 * [thaw]     a tree frozen here is thawed now (after afterCommit when that hook is given); the caller's
 *            `frozen` tree is left to the caller
 * finish     write what the frozen copy held, close the session, stats-dump, irmap-cache, ckpt-track.json, inventory.img (last: its
 *            presence marks the set complete), fsync
 * ```
 * Through a page server only pagemap/pages leave; the directory keeps inventory, stats-dump, irmap-cache,
 * the parent link, ckpt-track.json and ckpt-sent.json (what was sent: the next pre-dump plans PE_PARENT
 * holes inside it, and sends them as data anyway when OPEN2 says the server has no parent for the process).
 *
 * Failure: the image set is aborted once (the session dropped, the directory gets an INCOMPLETE marker, no
 * inventory) and a DumpError (ESRCH when the target exited meanwhile) is thrown; a tree frozen here is
 * thawed. Unexpected errors pass through unchanged.
 *
 * @example
 * const r = await preDump({ pid, imagesDir: '/ckpt/pre1' });
 * console.log(r.pagesWritten, r.memdumpTime);
 * // the caller owns a freeze that also covers other state:
 * using tree = freezeTree(pid);
 * await preDump({ pid, imagesDir: '/ckpt/pre2', prevImagesDir: '../pre1', trackMem: 'auto', frozen: tree });
 * // ... read registers etc. under the same freeze ..., then tree.thaw()
 */
import { resolve } from 'node:path';
import { ImageDir } from '../images/index.js';
import type { PageReader } from '../mem/index.js';
import type { FrozenTree } from '../ptrace/index.js';
import { DumpError } from './errors.js';
import { type FrozenWindow, freezeForWindow } from './freeze-window.js';
import { type Logger, silentLogger } from './logger.js';
import { DumpPipeline, type PipelineOptions } from './pipeline.js';
import { ReadSource } from './read-source.js';
import type { PreDumpResult } from './stats.js';

/** Options of preDump (no global state: the CLI builds this from argv and env). */
export interface PreDumpOptions extends PipelineOptions {
  /** Size of the one read buffer, bytes (default 4 MiB). */
  readonly bufferSize?: number;
  /**
   * Freeze the whole tree (ptrace/freezeTree) for the copy, and thaw it once copied: consistent images;
   * the default ends tracking (the chain's end).
   */
  readonly freeze?: boolean;
  /**
   * A tree the caller froze (and thaws): the copy is taken inside it and nothing is thawed here. For a
   * dump that reads more state under the same freeze. Excludes `freeze`.
   */
  readonly frozen?: FrozenTree;
  /**
   * Frozen: bytes of pages the copy holds in memory to write after the thaw, at most (default 256 MiB,
   * read-source.ts DEFAULT_HOLD_CAP; 0: write while frozen). Past it the rest is written while frozen.
   */
  readonly holdCap?: number;
  /** The read buffers, owned by the caller and kept across pre-dumps (--iterations); else made here. */
  readonly reader?: PageReader;
  /** Cancels the dump (the images are marked incomplete; sys/'s CancelledError). */
  readonly signal?: AbortSignal;
  /** Test hook, after each buffer went to the sink (index from 0). */
  readonly afterBuffer?: (index: number) => void;
  /**
   * Test hook: after the images are committed, before a tree frozen here (`freeze`) is thawed: the thaw
   * then waits for the commit (the frozen window holds the writing too).
   */
  readonly afterCommit?: (r: PreDumpResult) => void | Promise<void>;
}

/** What runPreDump needs besides the pipeline: who freezes, and the hook. */
export interface FreezeChoice {
  readonly pid: number;
  readonly freeze?: boolean;
  readonly frozen?: FrozenTree;
  readonly tree?: boolean;
  readonly logger?: Logger;
  readonly afterCommit?: (r: PreDumpResult) => void | Promise<void>;
}

/** Run one pre-dump. Throws DumpError for expected failures (see the module comment). */
export async function preDump(o: PreDumpOptions): Promise<PreDumpResult> {
  const bufferSize = o.bufferSize ?? 4 << 20;
  if (!Number.isSafeInteger(bufferSize) || bufferSize < 4096 || bufferSize > 1 << 30) {
    throw new DumpError('EINVAL', `bad buffer size ${bufferSize} (4 KiB .. 1 GiB)`);
  }
  if (o.freeze && o.frozen) throw new DumpError('EINVAL', 'freeze and frozen exclude each other');
  const log = o.logger ?? silentLogger;
  const p = await DumpPipeline.prepare(
    { ...o, what: 'pre-dump', willFreeze: o.freeze === true || o.frozen !== undefined },
    (pid) =>
      new ReadSource(pid, {
        bufferSize,
        log,
        signal: o.signal,
        afterBuffer: o.afterBuffer,
        frozen: o.freeze === true || o.frozen !== undefined,
        holdCap: o.holdCap,
        reader: o.reader,
        holdReserve: holdEstimate(o),
      }),
  );
  return runPreDump(p, o);
}

/**
 * Bytes a frozen copy will likely hold (without pre-copy passes): 1.5 x what the parent wrote (the pages written over a similar
 * interval), at least 16 MiB; 16 MiB without a parent. An estimate for the reservation before the freeze:
 * the copy allocates more in the window if it must (counted in the result's hold.grownBytes).
 */
function holdEstimate(o: PreDumpOptions): number {
  const floor = 16 << 20;
  if (!(o.freeze || o.frozen) || o.prevImagesDir === undefined || !o.imagesDir) return floor;
  // with pre-copy passes (freezeForWindow: a parent, --freeze) the window copies only what follows the
  // last pass: the pipeline reserves for that after the passes
  if (o.freeze && o.preCopyPasses !== 0 && o.trackMem !== undefined && o.trackMem !== 'none') return floor;
  try {
    const written = ImageDir.open(resolve(o.imagesDir, o.prevImagesDir)).stats()?.dump?.pages_written ?? 0;
    return Math.max(floor, Math.round(written * 4096 * 1.5));
  } catch {
    return floor; // the pipeline reports a bad parent itself
  }
}

/**
 * Drive a prepared pipeline as a pre-dump: capture running, in the caller's `frozen` tree, or (`freeze`)
 * in a tree frozen here and thawed as soon as the copy is taken (after `afterCommit` when given).
 */
export async function runPreDump(p: DumpPipeline, o: FreezeChoice): Promise<PreDumpResult> {
  const log = o.logger ?? silentLogger;
  let own: FrozenWindow | undefined;
  try {
    if (o.freeze && !o.frozen) own = await freezeForWindow(p, { pid: o.pid, tree: o.tree, log });
    await p.capture(o.frozen ?? own?.tree);
    if (!o.afterCommit) own?.thaw(); // the frozen window ends here: the rest runs with the tree running
    const r = await p.finish();
    await o.afterCommit?.(r);
    return r;
  } catch (e) {
    throw p.fail(e);
  } finally {
    own?.thaw();
  }
}
