/**
 * The identity of every process a dump took (proc/readIdentity: start time, executable, address-space
 * layout), kept beside the images as ckpt-procs.json, so that the next pre-dump of the chain can tell a
 * process that ran exec (or a reused pid) since the parent: such a process is dumped in full, never with
 * PE_PARENT holes that would fetch pages of its previous program.
 *
 * ```
 * ckpt-procs.json  { "format": "ckpt-procs", "version": 1,
 *                    "tasks": { "<pid>": { "startTime": µs, "exe": "dev:ino", "mm": "..." } } }
 * ```
 * A missing or malformed file is an empty map: nothing is known, and the tracking state decides alone.
 *
 * @example
 * writeProcessIds(dir.path, ids);
 * readProcessIds(parent.path).get(pid); // ProcessIdentity | undefined
 */
import type { ProcessIdentity } from '../proc/index.js';
import { readTaskFile, writeTaskFile } from './task-file.js';

export const PROCESS_IDS_FILE = 'ckpt-procs.json';

/** Write the identities into image directory `dir` (atomically; before its inventory commits it). */
export function writeProcessIds(dir: string, ids: ReadonlyMap<number, ProcessIdentity>): void {
  writeTaskFile(dir, PROCESS_IDS_FILE, 'ckpt-procs', ids);
}

/** The identities recorded in `dir`; empty when there is no (valid) file. */
export function readProcessIds(dir: string): Map<number, ProcessIdentity> {
  return readTaskFile(dir, PROCESS_IDS_FILE, 'ckpt-procs', (v) => {
    const id = v as Partial<ProcessIdentity> | null;
    if (!id || typeof id !== 'object') return undefined;
    if (typeof id.startTime !== 'number' || typeof id.exe !== 'string' || typeof id.mm !== 'string') {
      return undefined;
    }
    return { startTime: id.startTime, exe: id.exe, mm: id.mm };
  });
}
