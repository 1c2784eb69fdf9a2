/**
 * The fd table of a process: /proc/PID/fd (what each descriptor is) and /proc/PID/fdinfo/N (flags in
 * octal, pos, mnt_id, and per-kind lines such as `inotify wd:`, `eventfd-count:` or `tfd:`).
 *
 * ```
 * link target              kind
 * /path/to/file            'file'     (regular file, directory, device node: anything with a path)
 * pipe:[ino]               'pipe'
 * socket:[ino]             'socket'
 * anon_inode:[eventfd] ... 'anon'     (name kept: eventfd, eventpoll, inotify, userfaultfd, io_uring, ...)
 * /memfd:name (deleted)    'file'     (deleted: true)
 * ```
 *
 * @example
 * for (const fd of readFds(pid)) console.log(fd.fd, fd.kind, fd.target, fd.flags.toString(8), fd.pos);
 */
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { procErrorFrom } from './errors.js';
import { readProcFile } from './file.js';

export type FdKind = 'file' | 'pipe' | 'socket' | 'anon';

export interface FdInfo {
  readonly fd: number;
  readonly kind: FdKind;
  /** The link target as /proc shows it. */
  readonly target: string;
  /** The path without a trailing " (deleted)". */
  readonly path: string;
  readonly deleted: boolean;
  /** open(2) flags (O_ACCMODE | O_APPEND | ..., O_CLOEXEC as in fdinfo). */
  readonly flags: number;
  readonly pos: number;
  /** Inode number of pipes and sockets (0 otherwise). */
  readonly inode: number;
  /** st_mode, st_size, st_dev, st_ino of the open file (through /proc/PID/fd/N, so deleted files too). */
  readonly mode: number;
  readonly size: number;
  readonly dev: number;
  readonly ino: number;
  /** st_rdev: the device of a character or block device file (0 otherwise). */
  readonly rdev: number;
  /** The whole fdinfo text (for kinds that need more lines). */
  readonly fdinfo: string;
}

function kindOf(target: string): FdKind {
  if (target.startsWith('pipe:[')) return 'pipe';
  if (target.startsWith('socket:[')) return 'socket';
  if (target.startsWith('anon_inode:')) return 'anon';
  return 'file';
}

/** Every open descriptor of `pid`, ascending. Descriptors closed while listing are skipped. */
export function readFds(pid: number): FdInfo[] {
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch (e) {
    throw procErrorFrom(e, pid, 'fd');
  }
  const out: FdInfo[] = [];
  for (const n of names.map(Number).sort((a, b) => a - b)) {
    let target: string;
    let fdinfo: string;
    let st: ReturnType<typeof statSync>;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${n}`);
      fdinfo = readProcFile(pid, `fdinfo/${n}`);
      st = statSync(`/proc/${pid}/fd/${n}`);
    } catch {
      continue; // closed meanwhile
    }
    const kind = kindOf(target);
    const field = (k: string) => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(fdinfo)?.[1] ?? '0';
    const deleted = kind === 'file' && target.endsWith(' (deleted)');
    const inode = /\[(\d+)\]$/.exec(target);
    out.push({
      fd: n,
      kind,
      target,
      path: deleted ? target.slice(0, -' (deleted)'.length) : target,
      deleted,
      flags: Number.parseInt(field('flags'), 8),
      pos: Number(field('pos')),
      inode: inode && kind !== 'anon' ? Number(inode[1]) : 0,
      mode: Number(st.mode),
      size: Number(st.size),
      dev: Number(st.dev),
      ino: Number(st.ino),
      rdev: Number(st.rdev),
      fdinfo,
    });
  }
  return out;
}
