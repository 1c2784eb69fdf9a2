/**
 * The persisted state of a uffd-wp tracker between separate runs (pre-dump, pre-dump, dump as separate
 * processes): the target keeps the userfaultfd open at fd number `fd`; the next run checks that it is still
 * the same process and the same userfaultfd before taking it again with pidfd_getfd. JSON-able; the dump
 * layer stores it in the image directory.
 *
 * @example
 * writeFileSync('uffd.json', JSON.stringify(tracker.save()));
 * const r = UffdWpTracker.resume(JSON.parse(readFileSync('uffd.json', 'utf8')));
 */
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { readStartTimeMicros } from '../../proc/index.js';
import { UFFD } from '../../sys/index.js';

export interface UffdWpState {
  readonly version: 1;
  readonly pid: number;
  /** The userfaultfd's number in the target. */
  readonly fd: number;
  /** Start time of the target (µs since boot), to detect pid reuse. */
  readonly startTimeMicros: number;
  /** Inode of the userfaultfd (each userfaultfd has its own anon inode). */
  readonly inode: number;
  /** Registered ranges [start, end]. */
  readonly ranges: readonly (readonly [number, number])[];
  /** Ranges that could not be registered (reported in full by every collect). */
  readonly untracked: readonly (readonly [number, number])[];
  /** Parts that were huge pages when armed (collapsed again when tracking ends); absent in older states. */
  readonly huge?: readonly (readonly [number, number])[];
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isPairs = (x: unknown): boolean =>
  Array.isArray(x) && x.every((p) => Array.isArray(p) && p.length === 2 && isNum(p[0]) && isNum(p[1]));

/** Type check of a parsed state; returns the reason it is unusable, or null. */
export function stateShapeProblem(s: unknown): string | null {
  if (typeof s !== 'object' || s === null) return 'not an object';
  const o = s as Record<string, unknown>;
  if (o.version !== 1) return `unknown version ${String(o.version)}`;
  for (const k of ['pid', 'fd', 'startTimeMicros', 'inode']) if (!isNum(o[k])) return `bad ${k}`;
  if (!isPairs(o.ranges) || !isPairs(o.untracked)) return 'bad ranges';
  if (o.huge !== undefined && !isPairs(o.huge)) return 'bad huge ranges';
  return null;
}

/**
 * Is the target's fd `state.fd` still our userfaultfd in the same process? Returns the reason if not.
 * Checks: the start time (pid reuse), the link (`anon_inode:[userfaultfd]`), the inode, and that fdinfo
 * shows WP_ASYNC enabled.
 */
export function stateMismatch(state: UffdWpState): string | null {
  const { pid, fd } = state;
  try {
    if (readStartTimeMicros(pid) !== state.startTimeMicros) return `process ${pid} is not the same process`;
  } catch {
    return `process ${pid} is gone`;
  }
  let link: string;
  try {
    link = readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return `the target closed its userfaultfd (fd ${fd})`;
  }
  if (link !== 'anon_inode:[userfaultfd]') return `fd ${fd} of ${pid} is now ${link}`;
  try {
    if (statSync(`/proc/${pid}/fd/${fd}`).ino !== state.inode) return `fd ${fd} is a different userfaultfd`;
  } catch {
    return `fd ${fd} of ${pid} vanished`;
  }
  return hasAsyncWp(pid, fd) ? null : `fd ${fd} is a userfaultfd without async write-protect (or vanished)`;
}

/** Does fd `fd` of `pid` have async write-protect enabled (the API features in its fdinfo)? */
export function hasAsyncWp(pid: number, fd: number): boolean {
  try {
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1');
    const m = /^API:\s*[0-9a-f]+:([0-9a-f]+):/m.exec(info);
    return m !== null && (Number.parseInt(m[1]!, 16) & UFFD.FEATURE_WP_ASYNC) !== 0;
  } catch {
    return false;
  }
}
