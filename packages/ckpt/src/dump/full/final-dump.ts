/**
 * `ckpt dump`'s driver: the final checkpoint of a process tree, CRIU's full image set (restorable by
 * `criu restore`), built on the one dump driver (DumpPipeline) as it is.
 *
 * ```
 * up front      listTree; findRefusals of each (ckpt's own tracking userfaultfds excepted): a refusal
 *   (running)   throws here, before anything is created or frozen (targets untouched; a caller that
 *               checked already says so: refusalsChecked); injection sites; the [vdso] faulted in
 *               (vdso-pages.ts); VmFlags (smaps: slow, read here or given read ahead, used if the VMAs
 *               are the same when frozen)
 * prepare()     DumpPipeline: parent chain, tracking session (resumed from the parent, or the caller's
 *               live one: PE_PARENT holes), directory, page session
 * freeze        freezeForWindow: with a parent and --leave-running (or `preCopyPasses`) the pre-copy passes
 *               first (running), then every thread of every process; children forked meanwhile are caught
 * capture()     FROZEN: pages (data and parent holes; with --leave-running held in memory and written after
 *               the thaw, else written while frozen), tracking ended (userfaultfds closed in the targets)
 * end tracking  FROZEN: leftovers of other runs closed too (mem/closeLeftovers), so that nothing of ours
 *               is dumped or refused (looked for where a look before the freeze found any: mayHaveLeftovers)
 * refusals      FROZEN: again, on the frozen tree (what changed meanwhile, new children)
 * collect       FROZEN: collectTaskState of each process (registers, injected state, /proc); a tree to be
 *               killed keeps its last infection (no cure: the thaw cures it if the tree runs on after all)
 * thaw          --leave-running: here, before the images are encoded and written
 * images        writeTaskImages (pstree, core, ids, mm, fs, fdinfo, files, pipes-data, tty-info)
 * finish()      stats-dump, a full dump's inventory (img_version 2) last: the set is complete
 * release       optional (a migration): decides kill or thaw once the set is complete
 * kill          default (as CRIU): SIGKILL every process while still frozen, after the commit
 * fail(e)       any step: the pipeline ends tracking, aborts the set (INCOMPLETE); the tree is thawed
 * ```
 *
 * @example
 * const r = await finalDump({ pid, imagesDir: '/ckpt/final', prevImagesDir: '../2' });
 * // the tree is gone; criu restore -D /ckpt/final brings it back
 */
import type { InventoryEntry } from '../../images/index.js';
import {
  closeLeftovers,
  listRecords,
  mayHaveLeftovers,
  PageReader,
  type TrackerChoice,
} from '../../mem/index.js';
import { readMaps } from '../../proc/index.js';
import { type FrozenTree, injectionSite } from '../../ptrace/index.js';
import { kill, SIG } from '../../sys/index.js';
import type { PageTarget } from '../../xfer/index.js';
import { DumpError, dumpErrorFrom } from '../errors.js';
import { type FrozenWindow, freezeForWindow } from '../freeze-window.js';
import { type Logger, silentLogger } from '../logger.js';
import { phaseTimer } from '../phase-timer.js';
import { DumpPipeline } from '../pipeline.js';
import { ReadSource } from '../read-source.js';
import type { PreDumpResult } from '../stats.js';
import type { TrackingSession } from '../tracking.js';
import { listTree } from '../tree.js';
import { findRefusals } from './refuse.js';
import {
  collectTaskState,
  type EarlyVmFlags,
  earlyMatches,
  readEarlyVmFlags,
  type TaskState,
} from './task-state.js';
import { silenceConnections } from './tcp-stream.js';
import { faultInVdso } from './vdso-pages.js';
import { writeTaskImages } from './write-images.js';
import { findZombies } from './zombies.js';

export interface FinalDumpOptions {
  readonly pid: number;
  readonly imagesDir: string;
  /** The parent image set, relative to `imagesDir` (CRIU's --prev-images-dir): unchanged pages are holes. */
  readonly prevImagesDir?: string;
  /** Where pagemap and pages go (default: the directory; a page server: the rest stays in the directory). */
  readonly target?: PageTarget;
  /**
   * Established TCP connections are dumped (CRIU's --tcp-established: TCP repair, tcp-stream.ts); without
   * it they are refused. A tree killed after the dump closes them silently (repair mode).
   */
  readonly tcpEstablished?: boolean;
  /** Thaw the tree after the dump (CRIU's --leave-running); default: kill it once the set is complete. */
  readonly leaveRunning?: boolean;
  /** The tree was started from a shell: its controlling terminal is restored as the restorer's (CRIU's). */
  readonly shellJob?: boolean;
  /** Tracking to resume from the parent (default auto; none: every page as data). */
  readonly trackMem?: TrackerChoice;
  /**
   * The caller ran assertDumpable on this tree already (a migration, at its start): the refusals are
   * looked for only in the window (a tree that took something undumpable since is refused there, and
   * thawed), not again just before the freeze.
   */
  readonly refusalsChecked?: boolean;
  /**
   * A live tracking session to end the chain with instead of resuming one from the parent's
   * ckpt-track.json (a migration's, kept open over its iterations: no userfaultfd taken back from the
   * target, no record rewritten, just before the freeze). The dump ends its tracking (released) as it
   * would its own, on every way out; the caller's close() after that is harmless.
   */
  readonly tracking?: TrackingSession;
  readonly bufferSize?: number;
  /**
   * The page reader to read with (its buffers, allocated and touched already, are reused: a migration's
   * iterations lend theirs); default a new one of `bufferSize` (its buffers touched before the freeze).
   */
  readonly reader?: PageReader;
  /**
   * VmFlags read ahead (readEarlyVmFlagsAsync), by pid: taken for a process whose VMAs they still match
   * (a migration reads the root's while its iterations run: smaps takes ~15 ms a GiB); the others are
   * read here, before the freeze.
   */
  readonly early?: ReadonlyMap<number, EarlyVmFlags>;
  /** --leave-running: bytes of the frozen copy held in memory until the thaw (default: ReadSource's). */
  readonly holdCap?: number;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Without leaveRunning: called once the image set is complete, the tree still frozen, to decide its
   * end: 'kill' (as CRIU after a dump) or 'thaw' (it runs on: a migration whose destination failed). A
   * throw thaws the tree and is rethrown; the complete set stays.
   */
  readonly release?: (r: PreDumpResult) => Promise<'kill' | 'thaw'>;
  /**
   * With `release`: the page session's CLOSE is sent without waiting for its reply, and `release` runs
   * meanwhile (a migration: its destination takes the last files and RESTORE only after it closed the
   * pages, in order on the one connection: the wait for the reply was a round trip of the window); the
   * reply is awaited before the tree is killed (a failed close fails the dump, the tree thawed).
   */
  readonly closeSessionSoon?: boolean;
  /**
   * Pre-copy passes before the freeze, at most (docs/pipeline.md "The pre-copy passes"; needs a parent):
   * default 4 with `leaveRunning` into the directory, else 0. Given (> 0) they run in every case: without
   * `leaveRunning` the window's copy is then held in memory too (up to `holdCap`; the passes need the
   * hold), and with a session or page server `target` the caller asserts that the receiver holds this
   * dump's parent chain (a migration's destination does; one without it fails the dump, EIO).
   *
   * @example
   * await finalDump({ pid, imagesDir: 'WORK/3', prevImagesDir: '../2', target, preCopyPasses: 4, release });
   */
  readonly preCopyPasses?: number;
}

export interface FinalDumpResult extends PreDumpResult {
  /** Root first. */
  readonly states: readonly TaskState[];
  /** Whether the tree was killed (the default) or left running. */
  readonly killed: boolean;
}

/** One line per refusal: throws DumpError ENOTSUP naming them all. */
function refuse(lines: readonly string[]): void {
  if (lines.length > 0) throw new DumpError('ENOTSUP', `cannot dump:\n${lines.join('\n')}`);
}

/** The userfaultfds ckpt's tracking left in `pid` (track records): closed by the dump, not refused. */
function ourUserfaultfds(pid: number): Set<number> {
  const fds = new Set<number>();
  for (const r of listRecords()) if (r.pid === pid && r.uffd) fds.add(r.uffd.fd);
  return fds;
}

/**
 * The tree of `o.pid` (root first) when a full dump can take all of it; else DumpError ENOTSUP with one
 * line per problem (findRefusals), nothing touched. ckpt's own tracking userfaultfds are not problems.
 *
 * @example
 * const pids = assertDumpable({ pid, tcpEstablished: true }); // before a migration copies anything
 */
export function assertDumpable(o: Pick<FinalDumpOptions, 'pid' | 'shellJob' | 'tcpEstablished'>): number[] {
  const pids = listTree(o.pid);
  refuse(pids.flatMap((p) => findRefusals(p, 0, ourUserfaultfds(p), o.shellJob, pids, o.tcpEstablished)));
  return pids;
}

/** Dump `o.pid` and its descendants in full (see the module comment). Throws DumpError. */
export async function finalDump(o: FinalDumpOptions): Promise<FinalDumpResult> {
  const log = o.logger ?? silentLogger;
  const bufferSize = o.bufferSize ?? 4 << 20;
  const sites = new Map<number, number | undefined>();
  const early = new Map<number, EarlyVmFlags>();
  // what runs between the caller's last look at the memory and the freeze (a migration's last
  // iteration: all of it lets the window's delta grow), phase by phase at -v4
  const ready = phaseTimer(log, 'before the freeze:');
  try {
    const pids = o.refusalsChecked ? listTree(o.pid) : assertDumpable(o);
    ready('refusals');
    using reader = new PageReader(o.pid, { bufferSize: 1 << 16, buffers: 1 });
    for (const p of pids) {
      const maps = readMaps(p);
      sites.set(p, injectionSite(p, maps));
      await faultInVdso(reader, p);
      const ahead = o.early?.get(p);
      early.set(p, ahead && earlyMatches(ahead, maps) ? ahead : readEarlyVmFlags(p, maps));
    }
    ready('injection sites, vdso, VmFlags');
  } catch (e) {
    throw dumpErrorFrom(e, o.pid);
  }
  const held = o.leaveRunning === true || (o.preCopyPasses ?? 0) > 0; // the window's copy held in memory
  const p = await DumpPipeline.prepare(
    {
      pid: o.pid,
      imagesDir: o.imagesDir,
      prevImagesDir: o.prevImagesDir,
      target: o.target,
      logger: log,
      onProgress: o.onProgress,
      trackMem: o.prevImagesDir !== undefined ? (o.trackMem ?? 'auto') : undefined,
      tracking: o.tracking,
      saveTracking: false,
      endTracking: true,
      willFreeze: true,
      what: 'dump',
      preCopyPasses: o.preCopyPasses,
    },
    // --leave-running: the copy is held in memory and written after the thaw (the tree's downtime);
    // a tree killed after the dump gains nothing from that: written while frozen, no memory held (but
    // with pre-copy passes asked for: held, since the passes keep their pages in the hold)
    (pid) =>
      new ReadSource(pid, {
        bufferSize,
        reader: o.reader,
        log,
        signal: o.signal,
        frozen: true,
        holdCap: held ? o.holdCap : 0,
      }),
  );
  ready('the pipeline');
  // the processes where nothing of another run is found now: the window does not look again
  const clean = new Set<number>();
  for (const pid of sites.keys()) {
    try {
      if (!mayHaveLeftovers(pid)) clean.add(pid);
    } catch {
      /* exiting: the window sees */
    }
  }
  ready('leftovers');
  let w: FrozenWindow | undefined;
  let complete = false;
  try {
    // --leave-running or preCopyPasses: pre-copy passes first (the pipeline runs them only when the copy is held)
    // nothing allocated in bulk for the window (no held copy, the caller's read buffers): a scavenge
    const gc = held || o.reader === undefined ? 'full' : 'minor';
    w = await freezeForWindow(p, { pid: o.pid, log, gc });
    const frozen = w.tree;
    // ending tracking (capture) leaves its infection standing for collectTaskState (Injector.hold)
    for (const f of frozen.processes.values()) f.keepInfection = true;
    const phase = phaseTimer(log, 'frozen phase');
    await p.capture(frozen);
    phase('capture (pages, tracking ended)');
    for (const [pid, f] of frozen.processes) {
      if (clean.has(pid)) continue;
      const c = closeLeftovers(pid, { frozen: f });
      if (c.closed.length > 0) log.info('process %d: closed %d leftover userfaultfds', pid, c.closed.length);
    }
    phase('leftovers');
    refuse(
      frozen.pids.flatMap((pid) =>
        findRefusals(pid, process.pid, undefined, o.shellJob, frozen.pids, o.tcpEstablished),
      ),
    );
    phase('refusals');
    const states = frozen.pids.map((pid) =>
      collectTaskState(frozen.get(pid)!, {
        site: sites.get(pid),
        early: early.get(pid),
        tcpEstablished: o.tcpEstablished,
        phase,
        // killed frozen after the dump: no cure (the thaw cures where the tree runs on after all)
        uncured: !o.leaveRunning,
      }),
    );
    const zombies = findZombies(frozen.pids);
    phase('zombies');
    if (o.leaveRunning) w.thaw();
    phase('thaw');
    const dir = p.images.dir;
    if (!dir) throw new Error('finalDump: the image set has no directory');
    const inventory: InventoryEntry = writeTaskImages(dir, states, zombies);
    phase('images');
    // a tree to be killed ends tracking after the kill (nothing left to unregister then): a migration's
    // source is frozen until the destination runs the tree, and the close took ~30 ms a GiB of that
    const soon = o.closeSessionSoon === true && o.release !== undefined && !o.leaveRunning;
    const result = await p.finish({ inventory, deferTrackingEnd: !o.leaveRunning, closeSessionSoon: soon });
    complete = true;
    let killed = !o.leaveRunning;
    if (killed && o.release) {
      const end = o.release(result);
      try {
        await p.sessionClosed(); // answered before the release's own answers: settled by then
      } catch (e) {
        end.catch(() => {}); // fails too (the destination refused the set): this error says why
        throw e;
      }
      killed = (await end) === 'kill';
    }
    if (killed) {
      silenceConnections(
        states.flatMap((s) => [...s.sockets].filter(([, f]) => f.stream).map(([fd]) => [s.pid, fd] as const)),
      );
      killFrozen(frozen, log);
      p.endTracking(true);
    }
    return { ...result, states, killed };
  } catch (e) {
    throw complete ? e : p.fail(e);
  } finally {
    w?.thaw();
    if (complete) p.endTracking(false); // the release hook kept the tree (or failed): it runs on, paced
  }
}

/**
 * SIGKILL every process of the frozen tree (as CRIU after a complete dump) and reap our traced threads, so
 * that no zombie holds a pid a restore needs. The thaw that follows has nothing left to do.
 */
function killFrozen(tree: FrozenTree, log: Logger): void {
  for (const pid of tree.pids) {
    try {
      kill(pid, SIG.SIGKILL);
    } catch (e) {
      log.warn('could not kill %d: %s', pid, String(e));
    }
  }
  for (const f of tree.processes.values()) f.markGone();
}
