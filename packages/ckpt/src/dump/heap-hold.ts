/**
 * ckpt's own heap held to the size of one iteration along a chain of pre-dumps in one process
 * (`ckpt pre-dump --iterations N`), so that its peak RSS (`ckptPeakRss`, VmHWM) stays near that of the
 * first iteration instead of stepping up at the second:
 *
 * ```
 * not held:  startup + iteration 1   young generation grown to 8 MiB semi-spaces, half touched   86 MiB
 *            iteration 2..           survivors add up: 16 MiB semi-spaces, all of them touched   +30 MiB
 *                                    (and promoted garbage piles up in old space until a full GC)
 * held:      process start           young generation kept at its start size (growth factor 1),
 *                                    one malloc arena for every thread
 *            between iterations      one full GC while ckpt waits anyway (the target runs)
 * ```
 * V8 doubles the young generation's semi-spaces (up to 16 MiB each) once the bytes that survived
 * scavenges since the last growth exceed their size: over a chain every iteration's short-lived objects
 * add to that count, however few, and every page of a semi-space is touched once more than its size was
 * allocated. It never shrinks them back (no GC call does, measured), and `--max-semi-space-size` works only
 * at Node's start; the growth factor is read at each growth, so setting it stops the growth where the
 * heap is. Hence `HeapHold.start()` first thing in bin/ckpt.js for a command with `--iterations`, before
 * any module is loaded (started at the chain's start, the young generation has grown during startup
 * already: +14 MiB at the second iteration instead of +7). The price is more scavenges and earlier
 * promotions, which the full GC between iterations (`collect()`, 15-25 ms at 4 GiB, in the interval)
 * clears.
 *
 * The rest of the step was malloc's: V8 compiles the incremental iteration's code (collect, plan) on its
 * background threads at the second iteration, and each of those threads has its own glibc arena, which
 * keeps what the compiler's zones freed (+5 MiB at 4 GiB, then flat; gone with `--no-opt`). One arena
 * (`mallopt(M_ARENA_MAX, 1)`, from the same start on, for the process's life) makes the threads share
 * the main one, whose free memory the next compile reuses. bench/README.md (section final) has the
 * figures.
 *
 * @example
 * using hold = HeapHold.start();
 * for (...) { await preDump(...); hold.collect(); await sleep(interval); }
 */
import v8 from 'node:v8';
import { limitMallocArenas } from '../sys/syscalls.js';
import { collectGarbage } from './collect-garbage.js';

/** V8's default semi-space growth factor (flag-definitions.h). */
const DEFAULT_GROWTH_FACTOR = 2;

let holders = 0;
/** One malloc arena from the first hold on, for the process's life (glibc cannot go back). */
let arenaHeld = false;

/** The young generation held, and a full GC on demand; see the module comment. */
export class HeapHold {
  private released = false;

  private constructor() {}

  /** Stop the young generation's growth (from now on, until the last hold is released). */
  static start(): HeapHold {
    if (holders++ === 0) {
      v8.setFlagsFromString('--semi-space-growth-factor=1');
      if (!arenaHeld) {
        arenaHeld = true;
        try {
          limitMallocArenas(1);
        } catch {
          // no koffi/libc here: the young generation's hold alone
        }
      }
    }
    return new HeapHold();
  }

  /** A full garbage collection, now: between two iterations, while nothing is frozen. */
  collect(): void {
    if (!this.released) collectGarbage();
  }

  /** The young generation grows again as V8 likes once no hold is left. Safe to call twice. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (--holders === 0) v8.setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
