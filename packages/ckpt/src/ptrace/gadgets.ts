/**
 * Two instruction sequences the target already has in its executable file mappings (libc has both), so
 * that the injector's first and last calls run without patching a byte of code:
 * - `syscall; ret` (`0f 05 c3`): runs the injected call, then returns through the word at rsp;
 * - the signal restorer `mov rax, 15; syscall` (`48 c7 c0 0f 00 00 00 0f 05`, glibc's __restore_rt):
 *   rt_sigreturn from the frame above rsp.
 * Found in the files (read once per file and cached), at addresses inside a mapping of the target.
 *
 * @example
 * const g = findGadgets(readMaps(pid)); // { syscallRet, sigreturn } or undefined (then: patch the site)
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Vma } from '../proc/index.js';

export interface Gadgets {
  /** Address of `syscall; ret`. */
  readonly syscallRet: number;
  /** Address of `mov rax, 15; syscall`. */
  readonly sigreturn: number;
}

const SYSCALL_RET = Buffer.from('0f05c3', 'hex');
const SIGRETURN = Buffer.from('48c7c00f0000000f05', 'hex');
/** Files bigger than this are not searched (the read would cost more than patching). */
const MAX_FILE = 64 << 20;

/** File offsets of the first of each sequence in a file: by path, device and inode. */
const cache = new Map<string, { syscallRet: number; sigreturn: number }>();

function offsetsIn(path: string): { syscallRet: number; sigreturn: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    const key = `${path}\0${st.dev}\0${st.ino}\0${st.mtimeMs}`;
    const hit = cache.get(key);
    if (hit) return hit;
    if (st.size > MAX_FILE) return undefined;
    const data = Buffer.alloc(st.size);
    readSync(fd, data, 0, st.size, 0);
    const found = { syscallRet: data.indexOf(SYSCALL_RET), sigreturn: data.indexOf(SIGRETURN) };
    cache.set(key, found);
    return found;
  } finally {
    closeSync(fd);
  }
}

/** The two sequences in executable file mappings of `maps`, or undefined when either is missing. */
export function findGadgets(maps: readonly Vma[]): Gadgets | undefined {
  let syscallRet = 0;
  let sigreturn = 0;
  const exec = maps.filter((v) => v.exec && v.path.startsWith('/'));
  const at = (off: number, len: number, path: string) => {
    const v = exec.find(
      (m) => m.path === path && m.offset <= off && off + len <= m.offset + (m.end - m.start),
    );
    return v ? v.start + (off - v.offset) : 0;
  };
  // libc first: it has both; then the others (a static binary has them in itself)
  const paths = [...new Set(exec.map((v) => v.path))].sort(
    (a, b) => Number(/libc/.test(b)) - Number(/libc/.test(a)),
  );
  for (const path of paths) {
    const o = offsetsIn(path);
    if (!o) continue;
    if (!syscallRet && o.syscallRet >= 0) syscallRet = at(o.syscallRet, SYSCALL_RET.length, path);
    if (!sigreturn && o.sigreturn >= 0) sigreturn = at(o.sigreturn, SIGRETURN.length, path);
    if (syscallRet && sigreturn) return { syscallRet, sigreturn };
  }
  return undefined;
}
