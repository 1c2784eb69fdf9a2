/**
 * A garbage collection on demand (Node exposes gc() only with --expose-gc: the flag is set for a new
 * context that hands the function out, once a process). For the collections ckpt places itself: before a
 * frozen window (window-priority.ts), between the iterations of a chain (heap-hold.ts). Imports nothing
 * of ckpt's: bin/ckpt.js may load it before the rest.
 *
 * @example
 * collectGarbage(); // a mark-compact of the whole heap, now
 * collectGarbage('minor'); // the young generation only
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: ((o?: { type: 'minor' | 'major' }) => void) | undefined;

/**
 * A garbage collection now: `full` (default) a mark-compact of the whole heap; `minor` a scavenge of the
 * young generation only (0.8-12.8 ms before a migration's freeze here, against 17-39 ms for a full one):
 * what is left then is what the old generation grows by, which a short window does not fill.
 */
export function collectGarbage(kind: 'full' | 'minor' = 'full'): void {
  if (!gc) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void;
    } catch {
      gc = () => {};
    }
  }
  if (kind === 'minor') gc({ type: 'minor' });
  else gc();
}
