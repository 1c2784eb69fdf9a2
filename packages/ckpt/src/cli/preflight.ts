/**
 * What `ckpt pre-dump` checks before it creates anything: the target is a user process (a kernel thread has
 * no memory to dump: its pagemap answers EIO), and -D and --log-file are on a file system that keeps files
 * (not procfs or sysfs, where Node's recursive mkdir spins forever).
 *
 * @example
 * checkPreDumpTarget(pid, { imagesDir: '/ckpt/1' }); // throws CommandError EINVAL / ImageError NOT_A_DISK
 */
import { refusePseudoFs } from '../images/index.js';
import { isKernelThread } from '../proc/index.js';
import { CommandError } from './failure.js';

/** Throw an expected failure naming the pid or the path when the pre-dump cannot even start. */
export function checkPreDumpTarget(pid: number, paths: { imagesDir?: string; logFile?: string }): void {
  if (paths.imagesDir !== undefined) refusePseudoFs(paths.imagesDir, '-D');
  if (paths.logFile !== undefined) refusePseudoFs(paths.logFile, '--log-file');
  if (isKernelThread(pid))
    throw new CommandError('EINVAL', `process ${pid} is a kernel thread: nothing to dump`);
}
