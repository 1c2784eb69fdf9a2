/** /proc/PID/task: the thread ids of a process. */
import { readdirSync } from 'node:fs';
import { procErrorFrom } from './errors.js';

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
