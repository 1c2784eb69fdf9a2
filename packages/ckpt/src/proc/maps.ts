/**
 * /proc/PID/maps: the target's VMAs.
 *
 * Line grammar: `start-end perms offset major:minor inode [path]`, e.g.
 * `7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0    [heap]`.
 * Addresses are numbers (user space is below 2^47); `[vsyscall]` lies above 2^53 and is skipped by name.
 *
 * @example
 * for (const v of readMaps(pid)) if (v.read && v.private) console.log(v.start.toString(16), v.path);
 */
import { ProcError } from './errors.js';
import { readProcFile } from './file.js';

export interface Vma {
  readonly start: number;
  readonly end: number;
  readonly read: boolean;
  readonly write: boolean;
  readonly exec: boolean;
  /** 'p' in the perms: a private (copy-on-write) mapping; false for 's' (shared). */
  readonly private: boolean;
  readonly offset: number;
  readonly dev: string;
  readonly inode: number;
  /** Path or pseudo-name (`[heap]`, `[stack]`, `[vdso]`, `[anon:name]`), '' for anonymous memory. */
  readonly path: string;
}

/** Parse the text of a maps file. Throws ProcError EPARSE on a malformed line. */
export function parseMaps(text: string): Vma[] {
  const out: Vma[] = [];
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const line = text.slice(pos, nl);
    pos = nl + 1;
    if (line.length === 0) continue;
    const m = /^([0-9a-f]+)-([0-9a-f]+) ([r-])([w-])([x-])([ps]) ([0-9a-f]+) (\S+) (\d+)\s*(.*)$/.exec(line);
    if (!m) throw new ProcError('EPARSE', `malformed maps line: ${line}`);
    const path = m[10]!;
    if (path === '[vsyscall]') continue;
    out.push({
      start: Number.parseInt(m[1]!, 16),
      end: Number.parseInt(m[2]!, 16),
      read: m[3] === 'r',
      write: m[4] === 'w',
      exec: m[5] === 'x',
      private: m[6] === 'p',
      offset: Number.parseInt(m[7]!, 16),
      dev: m[8]!,
      inode: Number(m[9]),
      path,
    });
  }
  return out;
}

/** Read and parse /proc/PID/maps. */
export function readMaps(pid: number): Vma[] {
  return parseMaps(readProcFile(pid, 'maps'));
}
