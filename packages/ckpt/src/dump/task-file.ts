/**
 * ckpt's own per-process side files beside the images (ckpt-sent.json, ckpt-procs.json): one JSON
 * document each, tagged with a format name and version, holding one value per pid.
 *
 * ```
 * { "format": "<name>", "version": 1, "tasks": { "<pid>": <value>, ... } }
 * ```
 * Written atomically before the inventory commits the set; read leniently: a missing, unparsable or
 * foreign file, and any pid or value the caller's decoder refuses, is simply absent.
 *
 * @example
 * writeTaskFile(dir, 'ckpt-procs.json', 'ckpt-procs', new Map([[pid, id]]));
 * readTaskFile(dir, 'ckpt-procs.json', 'ckpt-procs', decodeIdentity); // Map<pid, identity>
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../images/index.js';

/** Write `tasks` (pid -> a JSON value) as `name` in `dir`, version 1. */
export function writeTaskFile<T>(
  dir: string,
  name: string,
  format: string,
  tasks: ReadonlyMap<number, T>,
): void {
  const out: Record<string, T> = {};
  for (const [pid, v] of tasks) out[String(pid)] = v;
  const doc = { format, version: 1, tasks: out };
  writeFileAtomic(join(dir, name), Buffer.from(`${JSON.stringify(doc)}\n`));
}

/** The values of `name` in `dir` that `decode` accepts (undefined: left out); empty without a valid file. */
export function readTaskFile<T>(
  dir: string,
  name: string,
  format: string,
  decode: (v: unknown) => T | undefined,
): Map<number, T> {
  const out = new Map<number, T>();
  const p = join(dir, name);
  if (!existsSync(p)) return out;
  let doc: { format?: unknown; version?: unknown; tasks?: unknown };
  try {
    doc = JSON.parse(readFileSync(p, 'utf8')) as typeof doc;
  } catch {
    return out;
  }
  if (doc?.format !== format || doc.version !== 1 || typeof doc.tasks !== 'object' || !doc.tasks) return out;
  for (const [pid, v] of Object.entries(doc.tasks as Record<string, unknown>)) {
    const value = /^\d+$/.test(pid) ? decode(v) : undefined;
    if (value !== undefined) out.set(Number(pid), value);
  }
  return out;
}
