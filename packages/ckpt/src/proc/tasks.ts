/** /proc/PID/task: the thread ids of a process. */
import { readdirSync } from 'node:fs';
import { ProcError, procErrorFrom } from './errors.js';
import { readProcFile } from './file.js';

/**
 * The thread ids of process `pid`, ascending (the leader first).
 *
 * @example
 * listThreads(1234) // [1234, 1235, 1236]
 */
export function listThreads(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`)
      .map(Number)
      .filter((n) => Number.isInteger(n))
      .sort((a, b) => a - b);
  } catch (e) {
    throw procErrorFrom(e, pid, 'task list');
  }
}

/**
 * The children of process `pid`: /proc/PID/task/TID/children of every thread, in that order. A thread
 * that exits meanwhile is skipped; the list is exact only while `pid` cannot fork (frozen), which is how
 * ptrace/freezeTree uses it. Throws ProcError (ESRCH when the process is gone).
 *
 * @example
 * listChildren(1234) // [1240, 1241]
 */
export function listChildren(pid: number): number[] {
  const out: number[] = [];
  for (const tid of listThreads(pid)) {
    let text: string;
    try {
      text = readProcFile(pid, `task/${tid}/children`);
    } catch (e) {
      if (e instanceof ProcError && e.code === 'ESRCH') continue; // the thread exited meanwhile
      throw e;
    }
    for (const c of text.split(' ')) if (c.trim()) out.push(Number(c));
  }
  return out;
}
