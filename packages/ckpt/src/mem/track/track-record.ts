/**
 * Track records: what ckpt leaves in a target, written down BEFORE it is left there, outside any image
 * directory (the directory of an interrupted run may be gone), so that a later run can always find and
 * close it. One small JSON file per target process, `/run/ckpt/track/<pid>-<starttime>.json`.
 *
 * ```
 *  uffd-wp start() with persist       record state            the target holds
 *  ------------------------------    ---------------------    -------------------------
 *  before freezing                    written, fsync'd:        its own userfaultfds only
 *                                     phase "injecting",       (their fd/inode: `before`)
 *                                     before = its userfaultfds
 *  inject userfaultfd(), thaw         (SIGKILL here: a later run closes the userfaultfds not in `before`)
 *  right after                        phase "tracking",        ours, at fd N (inode I)
 *                                     fd N, inode I (fsync'd)
 *  save() + exit: the chain goes on   kept (owner: the run that holds it now; resume() takes it over)
 *  release() / endInTarget()          removed                  its own only
 * ```
 * A later run finds a record for the same process (pid AND start time) when tracking it anew (a new
 * chain, `ckpt track --stop`): leftover.ts closes the userfaultfd it names, after checking, with the target
 * frozen, that fd N still is `anon_inode:[userfaultfd]` with inode I. A record whose process is gone (or
 * whose pid was reused) is stale and deleted by whoever reads it.
 *
 * @example
 * const r = recordIntent(pid);          // before the injection
 * recordTracking(r, fd, inode);          // right after it
 * removeRecord(r);                       // tracking ended, nothing left in the target
 */
import { mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readStartTimeMicros } from '../../proc/index.js';
import { writeDurable } from '../../sys/index.js';

/** Where the records live (tmpfs: they describe running processes, which do not survive a reboot). */
export const TRACK_RECORD_DIR = '/run/ckpt/track';

/** A userfaultfd of the target: fd number and inode (each userfaultfd has its own anon inode). */
export interface UffdRef {
  readonly fd: number;
  readonly inode: number;
}

/** The contents of one record file. */
export interface TrackRecord {
  readonly format: 'ckpt-track-record';
  readonly version: 1;
  readonly pid: number;
  /** The target's start time (µs since boot): pid reuse makes a record stale. */
  readonly startTimeMicros: number;
  /** "injecting": the userfaultfd may exist, its number is not known yet; "tracking": it is `uffd`. */
  readonly phase: 'injecting' | 'tracking';
  /** The target's own userfaultfds before the injection (never closed on a record's account). */
  readonly before: readonly UffdRef[];
  readonly uffd?: UffdRef;
  /** Parts that were huge pages when tracking armed them (collapsed again when it ends). */
  readonly huge?: readonly (readonly [number, number])[];
  /** The ckpt process that last held it (pid + start time), to tell a live run from a dead one. */
  readonly owner: { readonly pid: number; readonly startTimeMicros: number };
  /** Where the record file is (not stored). */
  readonly path: string;
}

const USERFAULTFD_LINK = 'anon_inode:[userfaultfd]';

/** The userfaultfds process `pid` holds now (from /proc/PID/fd). [] when it is gone. */
export function userfaultfdsOf(pid: number): UffdRef[] {
  const out: UffdRef[] = [];
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const n of names) {
    const p = `/proc/${pid}/fd/${n}`;
    try {
      if (readlinkSync(p) === USERFAULTFD_LINK) out.push({ fd: Number(n), inode: statSync(p).ino });
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

/** Is `ref` still that userfaultfd in `pid`? (Checked while the target is frozen, it cannot change.) */
export function isSameUserfaultfd(pid: number, ref: UffdRef): boolean {
  const p = `/proc/${pid}/fd/${ref.fd}`;
  try {
    return readlinkSync(p) === USERFAULTFD_LINK && statSync(p).ino === ref.inode;
  } catch {
    return false;
  }
}

function recordPath(pid: number, startTimeMicros: number, dir: string): string {
  return join(dir, `${pid}-${startTimeMicros}.json`);
}

/** Write `r` durably (temp file, fsync, rename, fsync of the directory: sys/durable-file.ts). */
function writeRecord(r: TrackRecord): void {
  const { path, ...body } = r;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeDurable(path, Buffer.from(`${JSON.stringify(body)}\n`), {
    temp: `${path}.${process.pid}.tmp`,
    syncDir: true,
  });
}

function self(): TrackRecord['owner'] {
  return { pid: process.pid, startTimeMicros: readStartTimeMicros(process.pid) };
}

/** Record, before injecting, that ckpt is about to leave a userfaultfd in `pid`. */
export function recordIntent(pid: number, dir = TRACK_RECORD_DIR): TrackRecord {
  const startTimeMicros = readStartTimeMicros(pid);
  const r: TrackRecord = {
    format: 'ckpt-track-record',
    version: 1,
    pid,
    startTimeMicros,
    phase: 'injecting',
    before: userfaultfdsOf(pid),
    owner: self(),
    path: recordPath(pid, startTimeMicros, dir),
  };
  writeRecord(r);
  return r;
}

/** The injected userfaultfd is `uffd` in the target (and these parts were huge pages). */
export function recordTracking(
  r: TrackRecord,
  uffd: UffdRef,
  huge?: readonly (readonly [number, number])[],
): TrackRecord {
  const next: TrackRecord = { ...r, phase: 'tracking', uffd, ...(huge ? { huge } : {}) };
  writeRecord(next);
  return next;
}

/** This process now holds the tracking of `r` (a resumed chain): a later run sees a live owner. */
export function recordOwner(r: TrackRecord): TrackRecord {
  const next: TrackRecord = { ...r, owner: self() };
  writeRecord(next);
  return next;
}

/** Forget a record (nothing of ours is left in its target). Never throws. */
export function removeRecord(r: TrackRecord | undefined): void {
  if (!r) return;
  try {
    unlinkSync(r.path);
  } catch {
    /* gone already */
  }
}

function parseRecord(path: string): TrackRecord | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<TrackRecord> | null;
    if (o?.format !== 'ckpt-track-record' || o.version !== 1) return undefined;
    if (!Number.isSafeInteger(o.pid) || !Number.isSafeInteger(o.startTimeMicros)) return undefined;
    if (!Array.isArray(o.before) || typeof o.owner !== 'object' || !o.owner) return undefined;
    return { ...(o as TrackRecord), path };
  } catch {
    return undefined;
  }
}

/** Does process `pid` still have this start time? */
function alive(pid: number, startTimeMicros: number): boolean {
  try {
    return readStartTimeMicros(pid) === startTimeMicros;
  } catch {
    return false;
  }
}

/** Is the record's owner a live ckpt run other than this process (it is using the userfaultfd now)? */
export function ownerRunning(r: TrackRecord): boolean {
  return r.owner.pid !== process.pid && alive(r.owner.pid, r.owner.startTimeMicros);
}

/**
 * Every record whose process still runs (stale ones, whose process is gone or whose pid was reused, are
 * deleted on the way). Files that are not records are left alone.
 */
export function listRecords(dir = TRACK_RECORD_DIR): TrackRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^\d+-\d+\.json$/.test(n));
  } catch {
    return [];
  }
  const out: TrackRecord[] = [];
  for (const n of names) {
    const r = parseRecord(join(dir, n));
    if (!r) continue;
    if (alive(r.pid, r.startTimeMicros)) out.push(r);
    else removeRecord(r);
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** The record of process `pid` as it runs now, if any. */
export function findRecord(pid: number, dir = TRACK_RECORD_DIR): TrackRecord | undefined {
  let start: number;
  try {
    start = readStartTimeMicros(pid);
  } catch {
    return undefined;
  }
  return listRecords(dir).find((r) => r.pid === pid && r.startTimeMicros === start);
}
