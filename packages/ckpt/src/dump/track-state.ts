/**
 * `ckpt-track.json`: the memory-tracking state a pre-dump leaves in its image directory, so that the next
 * `ckpt pre-dump --prev-images-dir` (a separate process) resumes tracking instead of dumping everything.
 * Our own file, not a CRIU image: CRIU, crit and `ckpt show`/`verify` ignore files they do not know.
 *
 * ```
 * { "format": "ckpt-track", "version": 1, "kind": "uffd-wp",
 *   "tasks": { "1234": { ...UffdWpState (mem/track/uffd-wp-state.ts) } } }
 * ```
 * Lifecycle: written (atomically, before inventory.img) by a pre-dump that keeps tracking; taken by the
 * next run, which renames it to `ckpt-track.used.json` BEFORE its first collect(): a collect re-arms the
 * pages it reports, so the same state must never be resumed twice (a failed run followed by a retry from
 * the same parent would miss those writes; the retry finds no state and dumps in full instead).
 *
 * @example
 * writeTrackState(dir, { format: 'ckpt-track', version: 1, kind: 'uffd-wp', tasks: { 42: state } });
 * const r = takeTrackState(parentDir); // { state } or { reason }
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../images/index.js';
import type { TrackerKind } from '../mem/index.js';

/** The file name in an image directory. */
export const TRACK_STATE_FILE = 'ckpt-track.json';
/** What a taken state file is renamed to. */
export const TRACK_STATE_USED_FILE = 'ckpt-track.used.json';

/** The contents of ckpt-track.json. */
export interface TrackStateFile {
  readonly format: 'ckpt-track';
  readonly version: 1;
  readonly kind: TrackerKind;
  /** Per process of the tree: the tracker's own saved state (opaque here; the tracker checks it). */
  readonly tasks: Readonly<Record<string, unknown>>;
}

/** Write the state into image directory `dir` (atomically). */
export function writeTrackState(dir: string, s: TrackStateFile): void {
  writeFileAtomic(join(dir, TRACK_STATE_FILE), Buffer.from(`${JSON.stringify(s)}\n`));
}

/**
 * Take the state left in `dir` (renaming it so that it is used once). Returns the reason when there is
 * none to take: missing, already used, not ours.
 */
export function takeTrackState(dir: string): { state: TrackStateFile } | { reason: string } {
  const p = join(dir, TRACK_STATE_FILE);
  if (!existsSync(p)) {
    return existsSync(join(dir, TRACK_STATE_USED_FILE))
      ? { reason: `the tracking state in ${dir} was already used by another pre-dump` }
      : { reason: `no tracking state in ${dir}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    return { reason: `${p}: not ours (${(e as Error).message})` };
  }
  const o = parsed as Partial<TrackStateFile> | null;
  if (o?.format !== 'ckpt-track' || o.version !== 1 || typeof o.tasks !== 'object' || !o.tasks) {
    return { reason: `${p}: not a ckpt tracking state` };
  }
  if (o.kind !== 'uffd-wp' && o.kind !== 'soft-dirty' && o.kind !== 'none') {
    return { reason: `${p}: unknown tracker ${String(o.kind)}` };
  }
  try {
    renameSync(p, join(dir, TRACK_STATE_USED_FILE));
  } catch (e) {
    return { reason: `cannot take ${p}: ${(e as Error).message}` };
  }
  return { state: o as TrackStateFile };
}
