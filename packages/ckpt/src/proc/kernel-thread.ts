/**
 * Whether a process is a kernel thread (PF_KTHREAD in the flags of /proc/PID/stat): it has no user memory,
 * so there is nothing to dump (its pagemap answers EIO).
 *
 * @example
 * isKernelThread(2); // true: kthreadd
 */
import { ProcError } from './errors.js';
import { readProcFile } from './file.js';

/** PF_KTHREAD of include/linux/sched.h. */
const PF_KTHREAD = 0x00200000;

/** True for a kernel thread; throws ProcError ESRCH when there is no such process. */
export function isKernelThread(pid: number): boolean {
  const text = readProcFile(pid, 'stat');
  // fields after "(comm) ": state is field 3, flags field 9
  const flags = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[6]);
  if (!Number.isInteger(flags)) throw new ProcError('EPARSE', `malformed /proc/${pid}/stat`);
  return (flags & PF_KTHREAD) !== 0;
}
