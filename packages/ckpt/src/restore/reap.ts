/**
 * Ending a process this restore made (the helper, a half-built clone, a restored process in a test):
 * SIGKILL, then reap it when it is ours to reap (our child, or our tracee); ECHILD means someone else
 * (init, its real parent) reaps it. Waits until /proc/PID is gone or about 2 s.
 *
 * @example
 * killAndReap(helperPid);
 */
import { existsSync } from 'node:fs';
import { kill, SIG, WAIT, WStatus, waitpid } from '../sys/index.js';

function nap(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** SIGKILL `pid` and reap it (see the module comment). Safe on a pid that is gone. */
export function killAndReap(pid: number): void {
  try {
    kill(pid, SIG.SIGKILL);
  } catch {
    return;
  }
  for (let i = 0; i < 1000; i++) {
    try {
      const w = waitpid(pid, WAIT.WALL | WAIT.WNOHANG);
      if (w.pid === pid && !WStatus.stopped(w.status)) return;
    } catch {
      break; // ECHILD: reaped, or not ours to reap
    }
    nap(1);
  }
  for (let i = 0; i < 1000 && existsSync(`/proc/${pid}`); i++) nap(2);
}
