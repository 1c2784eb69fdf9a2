/**
 * collectTaskState: everything a full dump needs of one frozen process, except its memory pages.
 *
 * ```
 * frozen process
 *   |- every thread, from outside (ptrace/readThreadState): gpregs (restart fixup), FPU/xsave, TLS,
 *   |  blocked mask, pending signals, rseq, robust list, sched; creds and comm from /proc/PID/task/TID
 *   |- the process's shared pending signals (PTRACE_PEEKSIGINFO_SHARED)
 *   |- /proc/PID/timers (posix-timers.ts), then by injection (injected-state.ts): sigactions, itimers,
 *   |  POSIX timers' values, brk, dumpable, securebits, subreaper, THP, per thread sigaltstack,
 *   |  clear_child_tid, pdeath signal     (cured before going on)
 *   '- from /proc: stat (mm fields, flags, pgid, sid, ppid), auxv, exe, maps + VmFlags (smaps: read
 *      before the freeze when the caller can, CollectOptions.early), fds + fdinfo, terminals (tty.ts),
 *      pipe contents (pipe-data.ts), cwd, root, personality, rlimits (/proc/PID/limits: rlimits.ts),
 *      loginuid, oom_score_adj, umask
 * ```
 * Registers are read before any injection; /proc is read after the injectors are cured, so the maps do
 * not show the injected scratch page (or, `uncured`, with its ranges left out). Everything runs while the
 * process is frozen.
 *
 * @example
 * using frozen = freeze(pid);
 * const state = collectTaskState(frozen);
 * state.threads.length === frozen.tids.length; // true
 */
import { statSync } from 'node:fs';
import {
  type FdInfo,
  type MmFields,
  readAuxv,
  readFds,
  readMaps,
  readMmFields,
  readPersonality,
  readProcFile,
  readProcLink,
  readProcNumber,
  readStatFields,
  readTaskCreds,
  readVmFlags,
  readVmFlagsAsync,
  type TaskCreds,
  type Vma,
} from '../../proc/index.js';
import { type FrozenProcess, readThreadState, type ThreadState } from '../../ptrace/index.js';
import { peekSiginfo } from '../../sys/index.js';
import { collectInjectedState, type InjectedState } from './injected-state.js';
import { peekPipe } from './pipe-data.js';
import { type ProcTimer, readPosixTimers } from './posix-timers.js';
import { readRlimits } from './rlimits.js';
import { lazyUnixTable, type SocketFacts, socketFacts } from './sockets.js';
import { isPtySlave, readTtyFacts, type TtyFacts } from './tty.js';

/** A thread: ptrace state, its creds and name. */
export interface TaskThread {
  readonly state: ThreadState;
  readonly creds: TaskCreds;
  readonly comm: string;
}

/** A file or directory a process refers to by path, with the stat facts files.img records. */
export interface PathFacts {
  readonly path: string;
  readonly mode: number;
  readonly size: number;
  readonly dev: number;
  readonly ino: number;
}

export interface TaskState {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly sid: number;
  readonly comm: string;
  /** Leader first. */
  readonly threads: readonly TaskThread[];
  /** Signals queued for the whole process (siginfo_t each; each thread's own: ThreadState.pending). */
  readonly sharedPending: readonly Uint8Array[];
  readonly injected: InjectedState;
  /** The POSIX timers as /proc/PID/timers shows them (their values: injected.posixTimers). */
  readonly posixTimers: readonly ProcTimer[];
  readonly mm: MmFields;
  /** Raw /proc/PID/auxv words. */
  readonly auxv: readonly bigint[];
  readonly exe: PathFacts;
  readonly cwd: PathFacts;
  readonly root: PathFacts;
  readonly maps: readonly Vma[];
  readonly vmFlags: ReadonlyMap<number, ReadonlySet<string>>;
  readonly fds: readonly FdInfo[];
  /** The terminals (pty slaves) among the descriptors, by fd (tty.ts; refused without --shell-job). */
  readonly ttys: ReadonlyMap<number, TtyFacts>;
  /** What each socket descriptor is (sockets.ts), read while frozen. */
  readonly sockets: ReadonlyMap<number, SocketFacts>;
  /** Buffered bytes and capacity of each pipe (by inode), read through one of its descriptors. */
  readonly pipes: ReadonlyMap<number, { data: Buffer; size: number }>;
  readonly personality: number;
  readonly rlimits: readonly { cur: bigint; max: bigint }[];
  readonly loginuid: number;
  readonly oomScoreAdj: number;
}

export interface CollectOptions {
  /** Injection site read before freezing (ptrace/injectionSite). */
  readonly site?: number;
  /**
   * The maps and VmFlags read before freezing (readEarlyVmFlags): smaps walks every page table (50-100 ms
   * a GiB), so its VmFlags are taken from this read when the frozen maps show the same VMAs.
   */
  readonly early?: EarlyVmFlags;
  /** Established TCP connections are read (TCP repair: tcp-stream.ts). */
  readonly tcpEstablished?: boolean;
  /** Called after each part (registers, injected state, /proc): the window's finer phases (-v4). */
  readonly phase?: (name: string) => void;
  /**
   * The process is killed frozen after the dump (FrozenProcess.keepInfection set): the injection is left
   * uncured (collectInjectedState `uncured`) and its mappings are left out of `maps`.
   */
  readonly uncured?: boolean;
}

/**
 * `maps` without the parts inside `ours` (ascending, disjoint): an injection left standing. Its mappings
 * are VMAs of their own (named, or of other protections than their neighbours'); a neighbour merged
 * with one is cut back to what is not ours.
 */
function withoutRanges(maps: Vma[], ours: readonly { start: number; end: number }[]): Vma[] {
  if (ours.length === 0) return maps;
  const out: Vma[] = [];
  for (const v of maps) {
    let start = v.start;
    for (const r of ours) {
      if (r.end <= start || r.start >= v.end) continue;
      if (r.start > start) out.push({ ...v, start, end: r.start, offset: v.offset + (start - v.start) });
      start = Math.max(start, r.end);
    }
    if (start < v.end) out.push({ ...v, start, end: v.end, offset: v.offset + (start - v.start) });
  }
  return out;
}

/** /proc/PID/maps and the VmFlags of smaps, read while the process runs. */
export interface EarlyVmFlags {
  readonly maps: readonly Vma[];
  readonly vmFlags: ReadonlyMap<number, ReadonlySet<string>>;
}

/**
 * Read the VmFlags of `pid` before freezing (see CollectOptions.early). A flag changed meanwhile without
 * changing the VMAs (a madvise on a whole VMA) is missed: a hint (hugepage, dontdump), never the memory.
 * `maps`: /proc/PID/maps as the caller just read it (default: read now).
 */
export function readEarlyVmFlags(pid: number, maps: readonly Vma[] = readMaps(pid)): EarlyVmFlags {
  return { maps, vmFlags: readVmFlags(pid) };
}

/**
 * readEarlyVmFlags with smaps read on a libuv thread: a caller that reads them well ahead (a migration,
 * while its iterations run) keeps its event loop going meanwhile.
 */
export async function readEarlyVmFlagsAsync(pid: number): Promise<EarlyVmFlags> {
  const maps = readMaps(pid);
  return { maps, vmFlags: await readVmFlagsAsync(pid) };
}

const vmaKey = (v: Vma) =>
  `${v.start}-${v.end} ${v.read}${v.write}${v.exec}${v.private} ${v.inode} ${v.path}`;

/** Whether `early` was read with the VMAs of `maps`: its VmFlags are theirs. */
export function earlyMatches(early: EarlyVmFlags, maps: readonly Vma[]): boolean {
  return early.maps.length === maps.length && early.maps.every((v, i) => vmaKey(v) === vmaKey(maps[i]!));
}

/** The early VmFlags if `maps` (read frozen) shows the same VMAs; else smaps now. */
function vmFlagsFor(pid: number, maps: readonly Vma[], early: EarlyVmFlags | undefined) {
  return early && earlyMatches(early, maps) ? early.vmFlags : readVmFlags(pid);
}

/** `link` of /proc/PID (exe, cwd, root): its path and the stat facts files.img records. */
export function pathFacts(pid: number, link: string): PathFacts {
  const path = readProcLink(pid, link);
  const st = statSync(`/proc/${pid}/${link}`);
  return { path, mode: Number(st.mode), size: Number(st.size), dev: Number(st.dev), ino: Number(st.ino) };
}

/** Collect the state of frozen process `frozen` (see the module comment). Throws PtraceError/ProcError. */
export function collectTaskState(frozen: FrozenProcess, o: CollectOptions = {}): TaskState {
  const pid = frozen.pid;
  const tids = [pid, ...frozen.tids.filter((t) => t !== pid)];
  const ptraceStates = tids.map((tid) => readThreadState(frozen, tid));
  const sharedPending = peekSiginfo(pid, true);
  o.phase?.(`${pid} registers`);
  const proc = readTaskCreds(pid);
  const posixTimers = readPosixTimers(pid);
  const injected = collectInjectedState(
    frozen,
    o.site,
    proc.sigCgt | proc.sigIgn,
    posixTimers.map((t) => t.id),
    o.uncured === true,
  );
  o.phase?.(`${pid} injected state (${injected.injection.calls} calls, ${injected.injection.stops} stops)`);
  const threads = ptraceStates.map((state) => ({
    state,
    creds: readTaskCreds(pid, state.tid),
    comm: readProcFile(pid, `task/${state.tid}/comm`).trim(),
  }));
  const f = readStatFields(pid);
  const maps = withoutRanges(readMaps(pid), injected.ours);
  const fds = readFds(pid);
  const pipes = new Map<number, { data: Buffer; size: number }>();
  for (const fd of fds) {
    if (fd.kind === 'pipe' && !pipes.has(fd.inode)) pipes.set(fd.inode, peekPipe(pid, fd.fd));
  }
  const ttys = new Map<number, TtyFacts>();
  for (const fd of fds) if (isPtySlave(fd)) ttys.set(fd.fd, readTtyFacts(pid, fd, f));
  const sockets = new Map<number, SocketFacts>();
  const unix = lazyUnixTable();
  for (const fd of fds)
    if (fd.kind === 'socket')
      sockets.set(fd.fd, socketFacts(pid, fd.fd, fd.inode, unix, true, o.tcpEstablished));
  const state: TaskState = {
    pid,
    ppid: Number(f[1]),
    pgid: Number(f[2]),
    sid: Number(f[3]),
    comm: readProcFile(pid, 'comm').trim(),
    threads,
    sharedPending,
    injected,
    posixTimers,
    mm: readMmFields(pid),
    auxv: readAuxv(pid),
    exe: pathFacts(pid, 'exe'),
    cwd: pathFacts(pid, 'cwd'),
    root: pathFacts(pid, 'root'),
    maps,
    vmFlags: vmFlagsFor(pid, maps, o.early),
    fds,
    ttys,
    sockets,
    pipes,
    personality: readPersonality(pid),
    rlimits: readRlimits(pid),
    loginuid: readProcNumber(pid, 'loginuid', 0xffffffff),
    oomScoreAdj: readProcNumber(pid, 'oom_score_adj', 0),
  };
  o.phase?.(`${pid} /proc`);
  return state;
}
