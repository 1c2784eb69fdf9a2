/**
 * What a fault campaign looks at in a target after each trial: its code bytes against the files they
 * were mapped from, its anonymous mappings, userfaultfds and scratch mappings of ours, its tracer.
 *
 * @example
 * const before = leftovers(pid);
 * ... ; codeDiffers(pid); // '' when every r-x file mapping equals its file
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { readMaps } from '../../proc/index.js';
import { findScratchMappings, RemoteMemory } from '../../ptrace/index.js';
import { countUserfaultfds } from '../userfaultfds.js';

/** One-letter state of /proc/PID/status ('' once gone). */
export function procState(pid: number): string {
  try {
    return /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
  } catch {
    return '';
  }
}

/** TracerPid of /proc/PID/status (0: not traced; -1: gone). */
export function tracerPid(pid: number): number {
  try {
    return Number(/^TracerPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? -1);
  } catch {
    return -1;
  }
}

/**
 * '' when every executable file mapping of `pid` holds the bytes of its file; else where the first
 * difference is (e.g. `redis-server+0x1000: 3 bytes`).
 */
export function codeDiffers(pid: number): string {
  using mem = RemoteMemory.open(pid);
  for (const v of readMaps(pid)) {
    if (!v.exec || !v.path.startsWith('/')) continue;
    const len = v.end - v.start;
    const inMem = mem.read(v.start, len);
    const inFile = Buffer.alloc(len);
    let fd: number;
    try {
      fd = openSync(v.path, 'r');
    } catch {
      continue; // deleted or replaced file: nothing to compare with
    }
    let n = 0;
    try {
      n = readSync(fd, inFile, 0, len, v.offset);
    } finally {
      closeSync(fd);
    }
    let bad = 0;
    let first = -1;
    for (let i = 0; i < n; i++) {
      if (inMem[i] !== inFile[i]) {
        bad++;
        if (first < 0) first = i;
      }
    }
    if (bad > 0) return `${v.path.split('/').pop()}+0x${(v.offset + first).toString(16)}: ${bad} bytes`;
  }
  return '';
}

/** Counts of what a dump may leave in a target. */
export interface Leftovers {
  /** Anonymous mappings (no file; named ones included). */
  readonly anon: number;
  readonly userfaultfds: number;
  /** Injector scratch mappings (findScratchMappings). */
  readonly scratch: number;
}

export function leftovers(pid: number): Leftovers {
  const anon = readMaps(pid).filter((v) => v.path === '' || v.path.startsWith('[anon:')).length;
  return { anon, userfaultfds: countUserfaultfds(pid), scratch: findScratchMappings(pid).length };
}
