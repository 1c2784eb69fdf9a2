/** Reading one /proc file of a process, with errors mapped to ProcError. */
import { readFileSync } from 'node:fs';
import { procErrorFrom } from './errors.js';

/**
 * Read `/proc/<pid>/<name>` as latin1 text.
 *
 * @example
 * readProcFile(1234, 'status')
 */
export function readProcFile(pid: number, name: string): string {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'latin1');
  } catch (e) {
    throw procErrorFrom(e, pid, name);
  }
}
