/**
 * What /proc says about a process beyond its memory, for the full dump (read while it is frozen):
 *
 * ```
 * /proc/PID/stat                 flags (9), start_code/end_code/start_stack (26-28),
 *                                start_data .. env_end (45-51): readMmFields
 * /proc/PID/auxv                 u64 pairs: readAuxv
 * /proc/PID/smaps                VmFlags per VMA (gd = MAP_GROWSDOWN, dd = MADV_DONTDUMP, ...): readVmFlags
 * /proc/PID/task/TID/status      Uid, Gid, Groups, Cap*, NoNewPrivs, SigBlk/SigPnd/ShdPnd/SigIgn/SigCgt,
 *                                Umask: readTaskCreds
 * /proc/PID/personality          hex word
 * /proc/PID/exe, cwd, root       readlink
 * ```
 *
 * @example
 * const mm = readMmFields(pid); mm.startCode.toString(16);
 * readTaskCreds(pid, tid).capEff; // [low word, high word]
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { procErrorFrom } from './errors.js';
import { readProcFile, readProcFileAsync } from './file.js';

/** The mm fields of /proc/PID/stat, as bigints (exact addresses). */
export interface MmFields {
  readonly flags: number;
  readonly startCode: bigint;
  readonly endCode: bigint;
  readonly startStack: bigint;
  readonly startData: bigint;
  readonly endData: bigint;
  readonly startBrk: bigint;
  readonly argStart: bigint;
  readonly argEnd: bigint;
  readonly envStart: bigint;
  readonly envEnd: bigint;
  readonly exitCode: number;
}

/**
 * The fields of /proc/PID/stat after the comm, field 3 (state) first: field n is at index n - 3.
 *
 * @example
 * readStatFields(pid)[5 - 3]; // the process group id
 */
export function readStatFields(pid: number): string[] {
  const text = readProcFile(pid, 'stat');
  return text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
}

/** Parse the mm fields of /proc/PID/stat. */
export function readMmFields(pid: number): MmFields {
  const f = readStatFields(pid);
  const at = (n: number) => f[n - 3] ?? '0';
  const big = (n: number) => BigInt(at(n));
  return {
    flags: Number(at(9)),
    startCode: big(26),
    endCode: big(27),
    startStack: big(28),
    startData: big(45),
    endData: big(46),
    startBrk: big(47),
    argStart: big(48),
    argEnd: big(49),
    envStart: big(50),
    envEnd: big(51),
    exitCode: Number(at(52)),
  };
}

/** /proc/PID/auxv as u64 words (type, value pairs, AT_NULL's pair last), as the kernel gives them. */
export function readAuxv(pid: number): bigint[] {
  let b: Buffer;
  try {
    b = readFileSync(`/proc/${pid}/auxv`);
  } catch (e) {
    throw procErrorFrom(e, pid, 'auxv');
  }
  const out: bigint[] = [];
  for (let o = 0; o + 8 <= b.length; o += 8) out.push(b.readBigUInt64LE(o));
  return out;
}

/** readlink of /proc/PID/<name> (exe, cwd, root, fd/N, map_files/...). */
export function readProcLink(pid: number, name: string): string {
  try {
    return readlinkSync(`/proc/${pid}/${name}`);
  } catch (e) {
    throw procErrorFrom(e, pid, name);
  }
}

/** VmFlags of each VMA in /proc/PID/smaps, by start address. */
export function readVmFlags(pid: number): Map<number, ReadonlySet<string>> {
  return parseVmFlags(readProcFile(pid, 'smaps'));
}

/** readVmFlags, /proc/PID/smaps read on a libuv thread (it walks every page table: ~15 ms a GiB). */
export async function readVmFlagsAsync(pid: number): Promise<Map<number, ReadonlySet<string>>> {
  return parseVmFlags(await readProcFileAsync(pid, 'smaps'));
}

function parseVmFlags(text: string): Map<number, ReadonlySet<string>> {
  const out = new Map<number, ReadonlySet<string>>();
  let start = -1;
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-[0-9a-f]+ /.exec(line);
    if (m) {
      start = Number.parseInt(m[1]!, 16);
      continue;
    }
    if (line.startsWith('VmFlags:') && start >= 0) {
      out.set(start, new Set(line.slice(8).trim().split(/\s+/)));
    }
  }
  return out;
}

/** Credentials and signal masks of one thread, from /proc/PID/task/TID/status. */
export interface TaskCreds {
  /** real, effective, saved, fs */
  readonly uid: readonly [number, number, number, number];
  readonly gid: readonly [number, number, number, number];
  readonly groups: readonly number[];
  /** Capability sets as [low u32, high u32]. */
  readonly capInh: readonly number[];
  readonly capPrm: readonly number[];
  readonly capEff: readonly number[];
  readonly capBnd: readonly number[];
  readonly capAmb: readonly number[];
  readonly noNewPrivs: number;
  /** Seccomp mode: 0 disabled, 1 strict, 2 filter. */
  readonly seccomp: number;
  readonly sigBlk: bigint;
  /** Pending for this thread (SigPnd) and for the whole process (ShdPnd). */
  readonly sigPnd: bigint;
  readonly shdPnd: bigint;
  /** Signals ignored (SigIgn) and caught by a handler (SigCgt), process-wide: bit sig-1. */
  readonly sigIgn: bigint;
  readonly sigCgt: bigint;
  readonly umask: number;
}

const capWords = (hex: string): number[] => {
  const v = BigInt(`0x${hex || '0'}`);
  return [Number(v & 0xffffffffn), Number(v >> 32n)];
};

/** Parse /proc/PID/task/TID/status (or /proc/PID/status without `tid`). */
export function readTaskCreds(pid: number, tid?: number): TaskCreds {
  const text = readProcFile(pid, tid === undefined ? 'status' : `task/${tid}/status`);
  const field = (k: string): string => {
    const m = new RegExp(`^${k}:[ \\t]*(.*)$`, 'm').exec(text);
    return m ? m[1]!.trim() : '';
  };
  const four = (k: string) => {
    const v = field(k).split(/\s+/).map(Number);
    return [v[0] ?? 0, v[1] ?? 0, v[2] ?? 0, v[3] ?? 0] as const;
  };
  return {
    uid: four('Uid'),
    gid: four('Gid'),
    groups: field('Groups')
      .split(/\s+/)
      .filter((s) => s !== '')
      .map(Number),
    capInh: capWords(field('CapInh')),
    capPrm: capWords(field('CapPrm')),
    capEff: capWords(field('CapEff')),
    capBnd: capWords(field('CapBnd')),
    capAmb: capWords(field('CapAmb')),
    noNewPrivs: Number(field('NoNewPrivs') || 0),
    seccomp: Number(field('Seccomp') || 0),
    sigBlk: BigInt(`0x${field('SigBlk') || '0'}`),
    sigPnd: BigInt(`0x${field('SigPnd') || '0'}`),
    shdPnd: BigInt(`0x${field('ShdPnd') || '0'}`),
    sigIgn: BigInt(`0x${field('SigIgn') || '0'}`),
    sigCgt: BigInt(`0x${field('SigCgt') || '0'}`),
    umask: Number.parseInt(field('Umask') || '22', 8),
  };
}

/** /proc/PID/personality (a hex word). */
export function readPersonality(pid: number): number {
  return Number.parseInt(readProcFile(pid, 'personality').trim(), 16);
}

/** A number from a one-value /proc file (loginuid, oom_score_adj), or `fallback` when unreadable. */
export function readProcNumber(pid: number, name: string, fallback: number): number {
  try {
    return Number(readProcFile(pid, name).trim());
  } catch {
    return fallback;
  }
}
