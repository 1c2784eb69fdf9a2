/**
 * The other way to fill the rebuilt mappings: the process reads its own pages. Each pages file is opened
 * inside it, and one injected pread64 per run of consecutive pages copies them from the page cache
 * straight into place (one copy, against process_vm_writev's two: file -> our buffer -> the process),
 * at the price of an injected call (a few tens of µs) per run.
 *
 * ```
 * per pages file: openat(path) in the process -> per data run: pread64(fd, vaddr, len, offset) -> close
 * ```
 *
 * @example
 * const { pages } = fillPagesByPread(task, dataRuns(chain, vmas));
 */
import { O, PAGE_SIZE } from '../sys/index.js';
import { RestoreError } from './errors.js';
import type { DataRun } from './page-delta.js';
import type { FillStats } from './page-fill.js';
import type { RemoteTask } from './remote-task.js';
import { openInTask } from './task-args.js';

const SYS_PREAD64 = 17;
/** Largest read per call (below the kernel's MAX_RW_COUNT). */
const MAX_READ = 1 << 30;

/** Fill the pages of `runs` by injected pread64 calls (`writes` counts them). */
export function fillPagesByPread(task: RemoteTask, runs: Iterable<DataRun>): FillStats {
  const fds = new Map<string, number>();
  const stats: FillStats = { pages: 0, writes: 0 };
  try {
    for (const loc of runs) {
      let fd = fds.get(loc.pagesPath);
      if (fd === undefined) {
        fd = openInTask(task, loc.pagesPath, O.RDONLY);
        fds.set(loc.pagesPath, fd);
      }
      const total = loc.nrPages * PAGE_SIZE;
      for (let done = 0; done < total; ) {
        const len = Math.min(MAX_READ, total - done);
        const n = task.call(
          `pread ${loc.pagesPath}`,
          SYS_PREAD64,
          fd,
          loc.vaddr + done,
          len,
          loc.offset + done,
        );
        if (n <= 0)
          throw new RestoreError(
            'CORRUPT_IMAGE',
            `${loc.pagesPath}: ${len} bytes wanted at ${loc.offset + done}, none there`,
          );
        done += n;
        stats.writes++;
      }
      stats.pages += loc.nrPages;
    }
  } finally {
    for (const fd of fds.values()) task.syscall(3, fd);
  }
  return stats;
}
