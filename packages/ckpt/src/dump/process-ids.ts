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
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../images/index.js';
import type { ProcessIdentity } from '../proc/index.js';

export const PROCESS_IDS_FILE = 'ckpt-procs.json';

/** Write the identities into image directory `dir` (atomically; before its inventory commits it). */
export function writeProcessIds(dir: string, ids: ReadonlyMap<number, ProcessIdentity>): void {
  const tasks: Record<string, ProcessIdentity> = {};
  for (const [pid, id] of ids) tasks[String(pid)] = id;
  const doc = { format: 'ckpt-procs', version: 1, tasks };
  writeFileAtomic(join(dir, PROCESS_IDS_FILE), Buffer.from(`${JSON.stringify(doc)}\n`));
}

/** The identities recorded in `dir`; empty when there is no (valid) file. */
export function readProcessIds(dir: string): Map<number, ProcessIdentity> {
  const out = new Map<number, ProcessIdentity>();
  const p = join(dir, PROCESS_IDS_FILE);
  if (!existsSync(p)) return out;
  let doc: { format?: unknown; version?: unknown; tasks?: unknown };
  try {
    doc = JSON.parse(readFileSync(p, 'utf8')) as typeof doc;
  } catch {
    return out;
  }
  if (doc?.format !== 'ckpt-procs' || doc.version !== 1 || typeof doc.tasks !== 'object' || !doc.tasks) {
    return out;
  }
  for (const [pid, v] of Object.entries(doc.tasks as Record<string, unknown>)) {
    const id = v as Partial<ProcessIdentity> | null;
    if (!/^\d+$/.test(pid) || !id || typeof id !== 'object') continue;
    if (typeof id.startTime !== 'number' || typeof id.exe !== 'string' || typeof id.mm !== 'string') continue;
    out.set(Number(pid), { startTime: id.startTime, exe: id.exe, mm: id.mm });
  }
  return out;
}
