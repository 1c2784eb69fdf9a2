/**
 * The restore's first reads of a process's state, made once ahead of it: each is several times slower the
 * first time in a process (the /proc parsers compiled, the native calls bound: readTaskCreds ~3.4 ms cold,
 * 0.1-0.4 warm; getSched 1.4 ms, then 0.02), and a migration's restore runs them while the process is down.
 * A migration's destination warms them on the pre-built process when it starts, long before the freeze.
 * Reads only: the process is left as it was.
 *
 * @example
 * warmRestoreReads(prebuilt.pid); // a process of ours, traced and stopped
 */
import { readdirSync } from 'node:fs';
import { readPersonality, readTaskCreds } from '../proc/index.js';
import { getRlimits, getSched, getXstate } from '../sys/index.js';

/** Run once each read restoreProcess makes of a task, on `pid` (a tracee of ours, in a ptrace stop). */
export function warmRestoreReads(pid: number): void {
  readTaskCreds(pid);
  getSched(pid);
  getRlimits(pid);
  readPersonality(pid);
  getXstate(pid);
  readdirSync(`/proc/${pid}/fd`);
}
