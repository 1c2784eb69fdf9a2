/**
 * Userfaultfds held by a process: its /proc/PID/fd entries that link to anon_inode:[userfaultfd] (the
 * uffd-wp memory tracking keeps one in the target between pre-dumps).
 *
 * @example
 * countUserfaultfds(f.pid); // 1 while a chain is tracked, 0 after its frozen end
 */
import { readdirSync, readlinkSync } from 'node:fs';

/** How many userfaultfds `pid` holds now (fds closed while listing are not counted). */
export function countUserfaultfds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[userfaultfd]';
    } catch {
      return false;
    }
  }).length;
}
