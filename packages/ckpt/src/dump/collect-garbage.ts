/**
 * A garbage collection on demand (Node exposes gc() only with --expose-gc: the flag is set for a new
 * context that hands the function out, once a process). For the collections ckpt places itself: before a
 * frozen window (window-priority.ts), between the iterations of a chain (heap-hold.ts). Imports nothing
 * of ckpt's: bin/ckpt.js may load it before the rest.
 *
 * @example
 * collectGarbage(); // a mark-compact of the whole heap, now
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

/** A full garbage collection (a mark-compact of the whole heap), now. */
export function collectGarbage(): void {
  if (!gc) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = () => {};
    }
  }
  gc();
}
