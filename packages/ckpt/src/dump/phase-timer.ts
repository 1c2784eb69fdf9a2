/**
 * A phase timer for the dump's log: each call logs (info) the µs since the previous one, under a label.
 * The frozen window's phases (full/final-dump.ts: `frozen phase capture ...: N us`) and finish()'s steps
 * after the thaw (pipeline.ts: `finish: drain: N us`) use it, so that `-v3`/`-v4` logs show where a dump's
 * time went (bench/dump.js --log-dir prints those lines).
 *
 * @example
 * const phase = phaseTimer(log, 'frozen phase');
 * await p.capture(tree);
 * phase('capture');   // "frozen phase capture: 21115 us"
 */
import type { Logger } from './logger.js';

/** Returns a function that logs `<label> <name>: <µs since the previous call> us` at info. */
export function phaseTimer(log: Logger, label: string): (name: string) => void {
  let t = process.hrtime.bigint();
  return (name) => {
    const now = process.hrtime.bigint();
    log.info('%s %s: %d us', label, name, Number((now - t) / 1000n));
    t = now;
  };
}
