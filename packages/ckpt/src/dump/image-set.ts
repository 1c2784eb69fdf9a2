/**
 * The one owner of a dump's output: its image directory (when it has one) and its page session (a
 * directory, a page server or nothing: xfer/openPageSession). Opened before anything is frozen; finished
 * (commit) or aborted exactly once.
 *
 * ```
 * ImageSet.open(o)  create DIR (parent link), open the session (a page server: connect; pages going
 *      |            elsewhere are recorded for the next pre-dump's holes: SentPagesSink)
 *      v
 *   writing --commit(meta)--> committed   sent pages, stats-dump, irmap-cache, tracking state, process
 *      |                                  identities (ckpt-procs.json), inventory.img
 *      |                                  last (its presence marks the set complete), fsync; then the
 *      |                                  set's index (ckpt-index.json: what the next pre-dump reads)
 *      +----fail(e)-------> aborted       the session aborted (a page server discards its images), DIR gets
 *                                         its INCOMPLETE marker; the error becomes a DumpError saying so
 * ```
 * fail() after commit() (a hook failing later) only converts the error; fail() twice aborts once.
 *
 * @example
 * const set = await ImageSet.open({ pid, imagesDir: '/ckpt/pre1', log });
 * try { ...; await set.closeSession(); set.commit({ stats, inventory }); }
 * catch (e) { throw set.fail(e, pid); }
 */
import { resolve } from 'node:path';
import type { DumpStatsEntry, InventoryEntry } from '../images/index.js';
import { checkImageChain, ImageDir, writeChainIndex } from '../images/index.js';
import type { ProcessIdentity } from '../proc/index.js';
import { CancelledError } from '../sys/index.js';
import { openPageSession, type PageSink, type PageTarget } from '../xfer/index.js';
import { DumpError, dumpErrorFrom } from './errors.js';
import type { Logger } from './logger.js';
import { writeProcessIds } from './process-ids.js';
import { SentPagesSink, writeSentPages } from './sent-pages.js';
import { type TrackStateFile, writeTrackState } from './track-state.js';

export interface ImageSetOptions {
  /** The dump's root process (for messages). */
  readonly pid: number;
  /** The image directory to create; none for a dry run or pages-only output. */
  readonly imagesDir?: string;
  /** The parent link, relative to `imagesDir` (CRIU's --prev-images-dir). */
  readonly prevImagesDir?: string;
  /** Where pages go (default: the directory, or nowhere without one). */
  readonly target?: PageTarget;
  /** Instead of `target`: a session opened by the caller, handed over (the set closes or aborts it). */
  readonly sink?: PageSink;
  /** Names the dump in messages ('pre-dump', 'splice pre-dump'). */
  readonly what: string;
  readonly log: Logger;
}

/** What commit() writes besides the pages. */
export interface ImageSetMeta {
  readonly stats: DumpStatsEntry;
  readonly inventory: InventoryEntry;
  /** ckpt-track.json for the next pre-dump of the chain. */
  readonly track?: TrackStateFile;
  /** ckpt-procs.json: which program each process ran (the next pre-dump checks it). */
  readonly processIds?: ReadonlyMap<number, ProcessIdentity>;
}

type State = 'writing' | 'committed' | 'aborted';

export class ImageSet {
  private state: State = 'writing';

  private constructor(
    readonly dir: ImageDir | undefined,
    /** The session every task's pages go through. */
    readonly sink: PageSink,
    private readonly recorder: SentPagesSink | undefined,
    /** The pages go into `dir` (not a page server, not a caller's sink). */
    readonly pagesInDir: boolean,
    private readonly o: ImageSetOptions,
  ) {}

  /** Create the directory and open the session. Throws DumpError (or a WireError from the connect). */
  static async open(o: ImageSetOptions): Promise<ImageSet> {
    if (!o.imagesDir && !o.sink && (o.target === undefined || o.target.kind === 'images')) {
      throw new DumpError('EINVAL', 'no images directory given');
    }
    let dir: ImageDir | undefined;
    try {
      if (o.imagesDir) dir = ImageDir.create(o.imagesDir, { parent: o.prevImagesDir });
    } catch (e) {
      throw dumpErrorFrom(e, o.pid);
    }
    let session: PageSink;
    try {
      session = o.sink ?? (await openPageSession(o.target ?? { kind: dir ? 'images' : 'discard' }, dir));
    } catch (e) {
      const err = dumpErrorFrom(e, o.pid);
      dir?.abort(err instanceof Error ? err.message : String(err));
      throw err;
    }
    // record what each pagemap names, for the next pre-dump's holes: ckpt-sent.json when the pages go
    // elsewhere, the set's index (images/chain-index.ts) when they stay here
    const toDir = !o.sink && (o.target === undefined || o.target.kind === 'images');
    const recorder = dir ? new SentPagesSink(session) : undefined;
    return new ImageSet(dir, recorder ?? session, recorder, toDir, o);
  }

  /** The directory's path, or null without one. */
  get path(): string | null {
    return this.dir ? this.dir.path : null;
  }

  /** Where the images go, for messages. */
  get where(): string {
    return this.dir ? this.dir.path : 'the sink';
  }

  /** Whether pages go somewhere else than the directory (its parent's coverage is then ckpt-sent.json). */
  get sendsElsewhere(): boolean {
    return this.dir !== undefined && !this.pagesInDir;
  }

  /**
   * End the page session after the last task (a page server: CLOSE and its reply). Returns ns spent.
   * `soon`: only until the CLOSE is on its way (PageSink.closeSoon, where the sink has it); the reply is
   * then `closing`, for the caller to await before it relies on the pages being there.
   */
  async closeSession(o: { readonly soon?: boolean } = {}): Promise<number> {
    const t = process.hrtime.bigint();
    if (o.soon && this.sink.closeSoon) {
      const c = this.sink.closeSoon();
      this.closing = c.done;
      await c.sent;
    } else await this.sink.close();
    return Number(process.hrtime.bigint() - t);
  }

  /** A closeSession({ soon }) still waiting for its reply (settled or not; resolved: nothing pending). */
  closing: Promise<void> = Promise.resolve();

  /** Write the metadata and commit the directory (inventory last, fsync); once. */
  commit(meta: ImageSetMeta): void {
    if (this.state !== 'writing') throw new Error(`ImageSet.commit: already ${this.state}`);
    const dir = this.dir;
    if (dir) {
      if (this.recorder && !this.pagesInDir) writeSentPages(dir.path, this.recorder.sent);
      dir.writeStats(meta.stats);
      dir.writeIrmapCache();
      if (meta.track) writeTrackState(dir.path, meta.track);
      if (meta.processIds) writeProcessIds(dir.path, meta.processIds);
      dir.setInventory(meta.inventory);
      dir.commit();
      // after the inventory: a set without its index is only checked and read the slow way
      if (this.recorder && this.pagesInDir) writeChainIndex(dir.path, this.recorder.sent);
    }
    this.state = 'committed';
  }

  /**
   * The one way out of a failed dump: abort the session and mark the directory incomplete (once), and
   * return the error to throw, expected failures as a DumpError that says the images are incomplete.
   * `failedPid`: the process being dumped when it failed.
   */
  fail(e: unknown, failedPid: number): unknown {
    let err = dumpErrorFrom(e, failedPid);
    if (this.state !== 'writing') return err;
    this.state = 'aborted';
    if (err instanceof DumpError && err.code === 'ESRCH') {
      // the process is gone: say when; unless it is still there running another program (exec, pid reuse)
      const replaced = /\(exec\)|pid was reused/.test(err.message);
      const msg = replaced ? err.message : `process ${failedPid} exited during the dump`;
      err = new DumpError('ESRCH', `${msg}; ${this.where} is incomplete`, { cause: e });
    } else if (err instanceof CancelledError) {
      err = new CancelledError(`${this.o.what} cancelled; ${this.where} is incomplete`, { cause: err });
    }
    const reason = err instanceof Error ? err.message : String(err);
    this.o.log.error('%s of %d failed: %s', this.o.what, this.o.pid, reason);
    try {
      this.sink.abort(reason);
      this.dir?.abort(reason);
    } catch (abortError) {
      this.o.log.error('could not mark %s incomplete: %s', this.where, String(abortError));
    }
    return err;
  }
}

/**
 * The parent image set of `imagesDir` (`prev` relative to it, as CRIU's --prev-images-dir): must exist and
 * be complete (its dump_uptime rules out pid reuse). Throws DumpError EINVAL.
 *
 * @example
 * openParent('/ckpt/run/2', '../1').path; // '/ckpt/run/1'
 */
export function openParent(imagesDir: string, prev: string): ImageDir {
  const path = resolve(imagesDir, prev);
  let d: ImageDir;
  try {
    d = ImageDir.open(path);
  } catch {
    throw new DumpError('EINVAL', `--prev-images-dir ${prev}: no image directory at ${path}`);
  }
  if (!d.complete) {
    const why = d.incompleteReason;
    throw new DumpError(
      'EINVAL',
      `--prev-images-dir ${prev}: ${path} is incomplete${why ? ` (${why})` : ''}`,
    );
  }
  try {
    checkImageChain(path); // pages files as long as their pagemaps say, every parent complete
  } catch (e) {
    throw new DumpError('EINVAL', `--prev-images-dir ${prev}: ${(e as Error).message}`, { cause: e });
  }
  return d;
}
