/** Reading one /proc file of a process, with errors mapped to ProcError. */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
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

/**
 * readProcFile, the kernel's work (e.g. smaps walking every page table) done on a libuv thread, so that
 * the event loop runs on meanwhile.
 *
 * @example
 * const smaps = await readProcFileAsync(1234, 'smaps');
 */
export async function readProcFileAsync(pid: number, name: string): Promise<string> {
  try {
    return await readFile(`/proc/${pid}/${name}`, 'latin1');
  } catch (e) {
    throw procErrorFrom(e, pid, name);
  }
}
