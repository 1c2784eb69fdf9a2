/**
 * POSIX timers (timer_create) of a restored process, injected into its leader once its threads exist (a
 * SIGEV_THREAD_ID timer names one) and late (they run from then on), as CRIU's restorer does:
 *
 * ```
 * timers sorted by id
 * ids: prctl(PR_TIMER_CREATE_RESTORE_IDS, ON) accepted (Linux 6.15+): timer_create takes the id in
 *        *created_timer_id; then OFF
 *      else (CRIU's loop): timer_create, and while the id the kernel gave is below the wanted one,
 *        timer_delete it and create again (the kernel hands ids out in order); past it: ENOTSUP
 * each: timer_create(clock, { sival_ptr, signo, notify, tid }) -> timer_settime(id, 0, { interval,
 *       value }) (a value of 0 with an interval: due when dumped, armed to fire at once)
 * ```
 * The overrun count is not restored (CRIU neither): the kernel counts it from the next expiry.
 *
 * @example
 * restorePosixTimers(leaderTask, images); // after the threads, with the itimers
 */
import type { PosixTimerEntry } from '../images/index.js';
import { RSYS } from '../sys/index.js';
import { RestoreError } from './errors.js';
import type { RemoteTask } from './remote-task.js';
import { putArg } from './task-args.js';
import type { TaskImages } from './task-images.js';

const SYS_TIMER_CREATE = 222;
const SYS_TIMER_SETTIME = 223;
const SYS_TIMER_DELETE = 226;
const PR_TIMER_CREATE_RESTORE_IDS = 77;
const SIGEV_SIZE = 64;

/** The kernel's struct sigevent: sigev_value, sigev_signo, sigev_notify, then the thread id. */
function sigevent(p: PosixTimerEntry): Buffer {
  const b = Buffer.alloc(SIGEV_SIZE);
  b.writeBigUInt64LE(p.sival_ptr, 0);
  b.writeInt32LE(p.si_signo, 8);
  b.writeInt32LE(p.it_sigev_notify, 12);
  b.writeInt32LE(p.notify_thread_id ?? 0, 16);
  return b;
}

/** Create timer `p` with its dumped id; `byId`: RESTORE_IDS is on. */
function createTimer(task: RemoteTask, p: PosixTimerEntry, byId: boolean): void {
  const idArg = Buffer.alloc(4);
  idArg.writeInt32LE(byId ? p.it_id : 0, 0);
  for (;;) {
    // where timer_create writes (or, with RESTORE_IDS, reads) the id
    const sev = putArg(task, sigevent(p));
    const idAt = putArg(task, idArg);
    task.call(`timer_create(id ${p.it_id}, clock ${p.clock_id})`, SYS_TIMER_CREATE, p.clock_id, sev, idAt);
    const got = task.read(idAt, 4).readInt32LE(0);
    if (got === p.it_id) return;
    if (byId || got > p.it_id)
      throw new RestoreError('ENOTSUP', `POSIX timer ${p.it_id}: the kernel gave id ${got}`);
    task.call(`timer_delete(placeholder ${got})`, SYS_TIMER_DELETE, got);
  }
}

/** The dumped POSIX timers of `t`, created with their ids and armed, in its leader `task`. */
export function restorePosixTimers(task: RemoteTask, t: TaskImages): void {
  const timers = [...(t.cores[0]!.tc?.timers?.posix ?? [])].sort((a, b) => a.it_id - b.it_id);
  if (timers.length === 0) return;
  const byId = task.syscall(RSYS.prctl, PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0) === 0;
  for (const p of timers) createTimer(task, p, byId);
  if (byId) task.call('prctl(PR_TIMER_CREATE_RESTORE_IDS, OFF)', RSYS.prctl, PR_TIMER_CREATE_RESTORE_IDS, 0);
  for (const p of timers) {
    const unarmed = p.vsec === 0n && p.vnsec === 0n;
    const due = unarmed && (p.isec !== 0n || p.insec !== 0n);
    if (unarmed && !due) continue;
    const its = Buffer.alloc(32);
    its.writeBigUInt64LE(p.isec, 0);
    its.writeBigUInt64LE(p.insec, 8);
    its.writeBigUInt64LE(p.vsec, 16);
    its.writeBigUInt64LE(due ? 1n : p.vnsec, 24);
    task.call(
      `timer_settime(${p.it_id}, ${p.vsec}.${p.vnsec}s every ${p.isec}.${p.insec}s)`,
      SYS_TIMER_SETTIME,
      p.it_id,
      0,
      putArg(task, its),
      0,
    );
  }
}
