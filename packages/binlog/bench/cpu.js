// CPU time readings for the benchmarks (Linux schedstat, ns).
import * as fs from 'node:fs';

/** This thread's [on-CPU ns, run-queue wait ns]. */
export function threadSched() {
  try {
    const [cpu, wait] = fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return [cpu, wait];
  } catch {
    return [0, 0];
  }
}

/** On-CPU ns of every thread of the process (helper threads, libuv's pool, GC helpers). */
export function processCpu() {
  let sum = 0;
  for (const t of fs.readdirSync('/proc/self/task')) {
    try {
      sum += Number(fs.readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return sum;
}
