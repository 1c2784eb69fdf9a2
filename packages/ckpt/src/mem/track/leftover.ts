/**
 * Leftovers: a userfaultfd an earlier ckpt run left in a target (it was interrupted, killed, or its chain
 * was abandoned without a `--freeze` end). While it is there, the target pays for write-protect faults,
 * `criu dump` refuses the process, and a new chain's registration gets EBUSY. Closing it needs the track
 * record (track-record.ts) that the run wrote before injecting:
 *
 * ```
 *  record phase "tracking" (fd N, inode I)   close fd N if it still is anon_inode:[userfaultfd], inode I
 *  record phase "injecting"                   close the userfaultfds that are not in the record's `before`
 *  no record, `force`                         close every userfaultfd with async write-protect (as ckpt
 *                                             makes them; the target may own one: hence only on request)
 * ```
 * Every check runs with the target frozen (it cannot close and reuse fd N under us), then one injection
 * closes them all. The same injection unmaps the injector's scratch mappings an earlier ckpt left when it
 * died inside an injection (signed or named: ptrace/scratch-mapping.ts), and the named data mappings its
 * injected mmap() calls had made; while we hold the target frozen
 * no other injector can be at work, so every one found is a leftover, unless a thread still runs in it
 * (its resume stub, right after that ckpt died): such a one is left for the next run; nor is one signed
 * by this very process (its own injection left standing for the window: Injector.hold). A record whose owner (a ckpt process) is still running is in use: left alone unless
 * `force`. The record is removed afterwards, and the huge pages it names (split by write-protection)
 * are collapsed again (huge-pages.ts).
 *
 * @example
 * const r = closeLeftovers(pid);          // { closed: [{ fd: 3, inode: 1234 }] }
 * closeLeftovers(pid, { force: true });   // also userfaultfds without a record
 */

import { readMaps } from '../../proc/index.js';
import {
  type FrozenProcess,
  findInjectorData,
  findScratchMappings,
  freeze,
  Injector,
  SCRATCH_NAME,
  type ScratchMapping,
} from '../../ptrace/index.js';
import { closeFd, pidfdOpen, SYS } from '../../sys/index.js';
import { type CollapseResult, collapseHuge } from './huge-pages.js';
import {
  findRecord,
  isSameUserfaultfd,
  ownerRunning,
  removeRecord,
  TRACK_RECORD_DIR,
  type TrackRecord,
  type UffdRef,
  userfaultfdsOf,
} from './track-record.js';
import { hasAsyncWp } from './uffd-wp-state.js';

export interface LeftoverOptions {
  /** The target is frozen already (the caller thaws it). */
  readonly frozen?: FrozenProcess;
  /** Also close userfaultfds no record names (async write-protect ones), and records in use. */
  readonly force?: boolean;
  readonly dir?: string;
}

export interface LeftoverResult {
  /** The userfaultfds closed in the target. */
  readonly closed: readonly UffdRef[];
  /** The injector scratch (and named data) mappings an earlier ckpt left, unmapped. */
  readonly unmapped: readonly ScratchMapping[];
  /** Why nothing was closed although a record exists (its owner runs), if so. */
  readonly skipped?: string;
  /** The huge pages tracking had split, collapsed again (when the record names them). */
  readonly collapsed?: CollapseResult;
}

/**
 * Which of the target's userfaultfds `now` are ckpt's leftovers. Pure (`asyncWp` answers the fdinfo
 * question): the rules of the module comment.
 */
export function leftoverCandidates(
  record: Pick<TrackRecord, 'phase' | 'before' | 'uffd'> | undefined,
  now: readonly UffdRef[],
  force: boolean,
  asyncWp: (r: UffdRef) => boolean,
): UffdRef[] {
  const same = (a: UffdRef, b: UffdRef) => a.fd === b.fd && a.inode === b.inode;
  const out: UffdRef[] = [];
  for (const r of now) {
    const byRecord =
      record !== undefined &&
      (record.uffd
        ? same(record.uffd, r)
        : record.phase === 'injecting' && !record.before.some((b) => same(b, r)));
    if (byRecord || (force && asyncWp(r))) out.push(r);
  }
  return out;
}

/**
 * Not a scratch mapping of this process's own injector at work (one it left standing in the frozen
 * window: Injector.hold); a later ckpt with our pid (reused) would only leave a leftover be.
 */
const notOurs = (m: ScratchMapping) => m.tracer !== process.pid;

/** Scratch mappings of a frozen process that no thread is running in (all are leftovers then). */
function staleScratch(f: FrozenProcess): ScratchMapping[] {
  const all = findScratchMappings(f.pid);
  const named = findInjectorData(f.pid, all); // with ours: its data pages are no leftovers
  const found = all.filter(notOurs);
  if (found.length === 0) return named;
  const ips = f.tids.map((t) => f.regs(t).address('rip'));
  const stale = found.filter((m) => !ips.some((ip) => ip >= m.start && ip < m.end));
  // the data mappings their tables list, where private anonymous rw- memory still covers them
  const maps = readMaps(f.pid);
  const anonRw = (a: number) =>
    maps.find(
      (v) =>
        v.start <= a &&
        a < v.end &&
        v.read &&
        v.write &&
        !v.exec &&
        v.private &&
        (v.path === '' || v.path === `[anon:${SCRATCH_NAME}]`),
    );
  const covered = (start: number, end: number) => {
    for (let a = start; a < end; ) {
      const v = anonRw(a);
      if (!v) return false;
      a = v.end;
    }
    return true;
  };
  const listed: ScratchMapping[] = [];
  for (const m of stale) {
    for (const d of m.data) {
      if (covered(d.start, d.end) && !named.some((n) => n.start === d.start)) {
        listed.push({ start: d.start, end: d.end, tracer: m.tracer, data: [] });
      }
    }
  }
  return [...named, ...listed, ...stale]; // data first, the scratch mappings (and their tables) last
}

/**
 * Whether closeLeftovers(pid) may find anything now: a track record this process does not hold, or an
 * injector's mapping not of this process. Reads the record and the maps only (no freeze): a frozen
 * window looks for leftovers only where this said so right before the freeze (the look itself took
 * 4.7-7.5 ms of a 4 GiB migration's window, to find nothing). What another ckpt leaves in between is
 * found by the window's refusals (a userfaultfd) or stays a mapping of the dump (an injector's, killed
 * in those milliseconds).
 *
 * @example
 * const look = mayHaveLeftovers(pid); // before the freeze
 * if (look) closeLeftovers(pid, { frozen }); // in the window
 */
export function mayHaveLeftovers(pid: number, dir = TRACK_RECORD_DIR): boolean {
  const record = findRecord(pid, dir);
  return (record !== undefined && record.owner.pid !== process.pid) || strayInjections(pid);
}

/** Whether `pid` holds an injector's scratch or data mapping that is not this process's. */
function strayInjections(pid: number): boolean {
  const all = findScratchMappings(pid);
  return all.some(notOurs) || findInjectorData(pid, all).length > 0;
}

/** Close what an earlier run left in `pid` (see the module comment). Throws if the target cannot be frozen. */
export function closeLeftovers(pid: number, o: LeftoverOptions = {}): LeftoverResult {
  const record = findRecord(pid, o.dir ?? TRACK_RECORD_DIR);
  const scratchSeen = strayInjections(pid); // before freezing: most runs find none
  if (!record && !o.force && !scratchSeen) return { closed: [], unmapped: [] };
  if (record && !o.force && ownerRunning(record)) {
    return { closed: [], unmapped: [], skipped: `in use by the running ckpt process ${record.owner.pid}` };
  }
  const f = o.frozen ?? freeze(pid);
  let closed: UffdRef[];
  let unmapped: ScratchMapping[];
  try {
    // frozen: the target cannot close fd N and open something else there between check and close
    const now = userfaultfdsOf(pid);
    closed = leftoverCandidates(record, now, o.force === true, (r) => hasAsyncWp(pid, r.fd)).filter((r) =>
      isSameUserfaultfd(pid, r),
    );
    unmapped = staleScratch(f); // before infect(): our own scratch mapping is not there yet
    if (closed.length > 0 || unmapped.length > 0) {
      using inj = Injector.infect(f);
      for (const r of closed) inj.call('close', SYS.close, r.fd);
      for (const m of unmapped) inj.munmap(m.start, m.end - m.start);
    }
  } finally {
    if (!o.frozen) f.thaw();
  }
  removeRecord(record);
  const huge = (record?.huge ?? []).map(([start, end]) => ({ start, end }));
  if (closed.length === 0 || huge.length === 0) return { closed, unmapped };
  let pidfd = -1;
  try {
    pidfd = pidfdOpen(pid);
    return { closed, unmapped, collapsed: collapseHuge(pidfd, huge) };
  } catch {
    return { closed, unmapped }; // gone meanwhile
  } finally {
    if (pidfd >= 0) closeFd(pidfd);
  }
}
