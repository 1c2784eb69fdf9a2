/**
 * Images go to a real file system, never to procfs, sysfs and the like: Node's recursive mkdir under
 * /proc spins forever (EEXIST/ENOENT loops), and nothing written there is kept. The check is statfs's
 * f_type of the path, or of its nearest existing ancestor when it does not exist yet.
 *
 * @example
 * refusePseudoFs('/proc/x', '-D'); // throws ImageError NOT_A_DISK: "-D /proc/x is on procfs, not a disk"
 */
import { existsSync, statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ImageError } from './errors.js';

/** statfs f_type magics (include/uapi/linux/magic.h) of file systems that hold no files of ours. */
const PSEUDO_FS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'procfs'],
  [0x62656572, 'sysfs'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x27e0eb, 'cgroupfs'],
  [0x63677270, 'cgroup2fs'],
  [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpffs'],
  [0x6165676c, 'pstorefs'],
  [0xde5e81e4, 'efivarfs'],
  [0x1cd1, 'devpts'],
]);

/**
 * The pseudo file system `path` (or its nearest existing ancestor) lives on, or undefined for a real one.
 *
 * @example
 * pseudoFsOf('/sys/kernel/x'); // 'sysfs'
 */
export function pseudoFsOf(path: string): string | undefined {
  let p = resolve(path);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  let type: number;
  try {
    type = statfsSync(p).type;
  } catch {
    return undefined; // cannot tell: the real operation will say what is wrong
  }
  return PSEUDO_FS.get(type);
}

/**
 * Throw ImageError `NOT_A_DISK` when `path` is on a pseudo file system; `what` names the flag or role in
 * the message (`-D`, `--log-file`).
 *
 * @example
 * refusePseudoFs(opts.imagesDir, '-D');
 */
export function refusePseudoFs(path: string, what: string): void {
  const fs = pseudoFsOf(path);
  if (fs !== undefined) {
    throw new ImageError('NOT_A_DISK', `${what} ${path} is on ${fs}, not a file system that keeps files`);
  }
}
