/**
 * `ckpt restore` of a process tree (every process, every thread): the inverse of the full dump over the
 * same images.
 *
 * ```
 * readTree (everything decoded and checked, every pid and tid free, before a pid is taken; a migration's
 * destination passes it read already: `images`)
 *   -> cloneWithPid: a helper's traced copy with the root's pid (helper-process.ts), raised to nice -10
 *      while it is built (its threads and children inherit it; each gets its dumped nice with its state)
 *   -> the trampoline mapped where no layout has anything (trampoline.ts), rseq unregistered
 *      (a pre-built process, prebuilt-process.ts, adopted instead: cloned, its trampoline placed and its
 *      anonymous memory filled while the source ran; its VMAs equal to the image's are kept below)
 *   -> every file of the tree opened in the root (fd-table.ts; --shell-job: its terminal is ckpt's,
 *      terminal.ts), the root's session (session.ts)
 *   -> each child cloned by its restored parent (task-clone.ts: parents first), its session; then every
 *      process's group (session.ts); then the zombies, children that end as the dumped ones did (zombie.ts)
 *   -> then each process: vdso compared with the dump's; address space rebuilt (address-space.ts,
 *      vdso.ts, page-fill.ts; kept VMAs get only their delta, page-delta.ts); its fds (fd-table.ts); sigactions, cwd, rlimits, personality (task-state.ts)
 *   -> the other threads: clone3 with set_tid from the leader, all in one batch (task-clone.ts); each: its tid address, robust list,
 *      rseq, name, every signal blocked, FPU state, nice and policy, creds (task-creds.ts), pdeath
 *      signal, its pending signals queued (task-signals.ts), registers (it stays stopped)
 *   -> the leader's per-thread state, FPU state, nice and policy, itimers, POSIX timers
 *      (posix-timers.ts), creds, dumpable, pdeath signal, child subreaper, pending signals (shared, own)
 *   -> registers = dumped ones, rip at the trampoline's syscall, rax = munmap(trampoline):
 *      PTRACE_SYSCALL to its exit, then SETREGS the dumped registers (the trampoline gone, no user
 *      instruction run yet) -> (--shell-job) the terminal's dumped termios and size -> every thread's
 *      dumped signal mask (PTRACE_SETSIGMASK) -> detach every
 *      thread of every process: the tree runs
 * ```
 * The injected calls are queued and run in batches where no result is needed at once (call-batch.ts).
 * Any failure before the detach kills every process being built and reaps it (none ran an instruction of
 * its own), and the helper is killed in every case: nothing is left behind. If ckpt itself dies
 * meanwhile, PTRACE_O_EXITKILL kills the half-built processes.
 *
 * @example
 * const r = await restoreProcess({ imagesDir: '/ckpt/final' }); // r.pid runs again
 * const status = await r.exited;                          // when ckpt is its parent (child subreaper)
 * // a migration's destination: the same sequence over a process built while the source ran
 * await restoreProcess({ imagesDir: '/srv/mig/6', prebuilt });
 */

import { getPriority } from 'node:os';
import { PageChain } from '../images/index.js';
import { raiseThread } from '../mem/index.js';
import { readMaps } from '../proc/index.js';
import { cancelledBy, RSYS, setRegs, setSigmask } from '../sys/index.js';
import { type AddressSpaceStats, type KeptVmas, rebuildAddressSpace } from './address-space.js';
import { restoreErrorFrom } from './errors.js';
import { installFds, type OpenFiles, openTreeFiles } from './fd-table.js';
import { assertFree, cloneWithPid } from './helper-process.js';
import { restorePosixTimers } from './posix-timers.js';
import type { AdoptedProcess, PrebuiltProcess } from './prebuilt-process.js';
import { RemoteTask } from './remote-task.js';
import { planSessions, restoreGroups, restoreSession } from './session.js';
import { createChild, createThreads } from './task-clone.js';
import { InheritedSecbits, restoreCreds, restoreDumpable } from './task-creds.js';
import { readTree, type TaskImages, type TreeImages } from './task-images.js';
import { dumpedSigmask, queuePendingSignals } from './task-signals.js';
import {
  finalRegisters,
  restoreFpu,
  restoreItimers,
  restoreParentLinks,
  restoreProcessState,
  restoreSched,
  restoreThreadState,
  unregisterRseq,
} from './task-state.js';
import { applyTerminalParams, checkTerminals } from './terminal.js';
import { findTrampoline, mapTrampoline, TRAMPOLINE_SIZE } from './trampoline.js';
import { checkVdso, parkingSize, planSpecialMappings, type SpecialPlan } from './vdso.js';
import { makeZombie } from './zombie.js';

export interface RestoreOptions {
  readonly imagesDir: string;
  /** How pages get into the process: 'writev' (default) or 'pread' (see address-space.ts). */
  readonly pageFill?: 'writev' | 'pread';
  /**
   * The tree is a shell job (CRIU's --shell-job): its terminal becomes ckpt's (fd 0), its session and
   * group outside the tree ckpt's (terminal.ts, session.ts). Without it, a dump holding a terminal is
   * refused.
   */
  readonly shellJob?: boolean;
  /**
   * A process built while a migration's source ran (prebuilt-process.ts): owned by the restore from here
   * (adopted when it fits the images, else killed and the restore goes the plain way; killed on failure).
   */
  readonly prebuilt?: PrebuiltProcess;
  /** The images of `imagesDir`, read already (readTree): a migration's final set, decoded as it came. */
  readonly images?: TreeImages;
  /** Test hook: called with the pid once the process is complete, before it runs (still stopped). */
  readonly beforeRun?: (pid: number) => void;
  /**
   * Cancellation (the CLI's SIGINT/SIGTERM): checked between phases (the restore yields to the event loop
   * there); a cancelled restore kills what it built and throws CancelledError.
   */
  readonly signal?: AbortSignal;
  /** Test hook, called at each phase boundary ('images', 'cloned', 'files', 'children', 'process PID'). */
  readonly onStep?: (step: string) => void;
  /** Progress lines (the CLI's -v levels). */
  readonly log?: (level: 'info' | 'debug', message: string) => void;
}

export interface RestoreResult {
  /** The root's pid. */
  readonly pid: number;
  /** Every process restored, the root first. */
  readonly pids: readonly number[];
  /** Injected system calls it took. */
  readonly syscalls: number;
  /** The ptrace stops they took (batches: call-batch.ts). */
  readonly stops: number;
  /** Memory of all processes together. */
  readonly memory: AddressSpaceStats;
  /** Milliseconds from the start to the tree running. */
  readonly millis: number;
  /** Whether a pre-built process was adopted, and how many of its VMAs were kept. */
  readonly prebuilt?: { readonly kept: number };
}

type Log = (level: 'info' | 'debug', message: string) => void;

/**
 * Restore the tree of a full dump (see the module comment). Throws RestoreError, or CancelledError when
 * `o.signal` aborts it.
 */
export async function restoreProcess(o: RestoreOptions): Promise<RestoreResult> {
  const t0 = performance.now();
  const say = o.log ?? (() => {});
  const log: Log = (level, m) => say(level, `${(performance.now() - t0).toFixed(1)} ms: ${m}`);
  const tasks: RemoteTask[] = [];
  const threads: RemoteTask[] = [];
  /** Every thread's dumped signal mask, set just before the detach (all blocked until then). */
  const masks: [tid: number, mask: bigint][] = [];
  /** A phase boundary: the hook, a turn of the event loop (signal handlers run), the cancellation check. */
  const step = async (name: string) => {
    o.onStep?.(name);
    await new Promise((r) => setImmediate(r));
    if (o.signal?.aborted) throw cancelledBy(o.signal, `restore cancelled (${name}): what was built is gone`);
  };
  let pre: AdoptedProcess | undefined;
  try {
    const read = o.images?.dir === o.imagesDir ? o.images : readTree(o.imagesDir);
    const images = read.tasks;
    const zombies = read.zombies;
    const root = images[0]!;
    pre = o.prebuilt?.adopt(images, (why) => log('info', `the pre-built process is not used: ${why}`));
    for (const t of images)
      for (const tid of t.pstree.threads)
        if (tid !== pre?.task.pid) assertFree(tid, tid === t.pid ? 'pid' : 'thread id');
    for (const z of zombies) assertFree(z.pid);
    const terminal = checkTerminals(images, o.shellJob === true);
    const sessions = planSessions(images, o.shellJob === true);
    log(
      'info',
      `restoring ${images.length} process(es) from ${o.imagesDir}: ${images.map((t) => `${t.pid} (${t.cores[0]!.tc!.comm})`).join(', ')}`,
    );
    await step('images');
    let rootTask: RemoteTask;
    if (pre) {
      rootTask = pre.task;
      log('debug', `process ${root.pid} pre-built, ${pre.kept.vmas.size} of its mappings kept`);
    } else {
      const clone = cloneWithPid(root.pid, o.shellJob === true);
      log('debug', `process ${root.pid} cloned from a helper`);
      rootTask = new RemoteTask(root.pid, clone.syscallAt);
    }
    tasks.push(rootTask);
    // raised while it is built (each stop waits for its thread to get a CPU: on a busy host, behind every
    // other job at nice 0); its threads and children inherit it, each gets its dumped value with its state
    const baseNice = getPriority(root.pid);
    raiseThread(root.pid);
    await step('cloned');
    const live = readMaps(root.pid);
    const plans = images.map((t) => planSpecialMappings(live, t.mm.vmas));
    const ranges = (xs: readonly { start: number | bigint; end: number | bigint }[]) =>
      xs.map((v) => [Number(v.start), Number(v.end)] as const);
    const park = Math.max(...plans.map(parkingSize));
    let tramp: number;
    if (pre) tramp = pre.trampoline;
    else {
      tramp = findTrampoline([ranges(live), ...images.map((t) => ranges(t.mm.vmas))], park);
      mapTrampoline(rootTask, tramp);
      unregisterRseq(rootTask);
    }
    log('debug', `trampoline at 0x${tramp.toString(16)}`);
    const files = openTreeFiles(rootTask, images, terminal);
    restoreSession(rootTask, sessions.get(root.pid)!);
    await step('files');
    for (const t of images.slice(1)) {
      const parent = tasks[images.findIndex((p) => p.pid === t.pstree.ppid)]!;
      const child = createChild(parent, t.pid, tramp);
      tasks.push(child);
      restoreSession(child, sessions.get(t.pid)!);
    }
    restoreGroups(tasks, sessions, o.shellJob === true);
    for (const z of zombies) makeZombie(tasks[images.findIndex((p) => p.pid === z.ppid)]!, z, tramp);
    log('debug', `${files.parked.size} files opened, ${images.length} processes cloned`);
    await step('children');
    const memory = { pages: 0, writes: 0, vmas: 0 };
    for (const [i, t] of images.entries()) {
      const kept = i === 0 ? pre?.kept : undefined;
      const m = rebuildProcess(tasks[i]!, t, plans[i]!, tramp, kept, files, o, threads, masks, log, baseNice);
      memory.pages += m.pages;
      memory.writes += m.writes;
      memory.vmas += m.vmas;
      await step(`process ${t.pid}`);
    }
    for (const [i, t] of images.entries()) finishLeader(tasks[i]!, t, tramp);
    for (const t of threads) t.flush(); // (done already: the dumped masks must come after every call)
    if (terminal) applyTerminalParams(images);
    for (const [tid, mask] of masks) setSigmask(tid, mask);
    o.beforeRun?.(root.pid);
    const syscalls = [...tasks, ...threads].reduce((n, t) => n + t.calls, 0);
    const stops = [...tasks, ...threads].reduce((n, t) => n + t.stops, 0);
    for (const t of threads) t.detach();
    for (const t of tasks.slice().reverse()) t.detach();
    const millis = performance.now() - t0;
    log(
      'info',
      `${images.length} process(es) run again (${syscalls} injected calls in ${stops} stops, ${millis.toFixed(1)} ms)`,
    );
    const prebuilt = pre ? { kept: pre.kept.vmas.size } : undefined;
    return { pid: root.pid, pids: images.map((t) => t.pid), syscalls, stops, memory, millis, prebuilt };
  } catch (e) {
    for (const t of threads) t.kill();
    for (const t of tasks.slice().reverse()) t.kill();
    o.prebuilt?.kill(); // not adopted (e.g. the images failed to read): still ours
    if (pre && !tasks.includes(pre.task)) pre.task.kill();
    throw restoreErrorFrom(e);
  } finally {
    pre?.kept.old.close();
  }
}

/**
 * One process: memory, fds, process state, its other threads (complete, stopped), the leader's state.
 * Creds and pending signals come last in each thread (creds drop ckpt's privileges; the signals stay
 * blocked and pending until the detach); `masks` gets each thread's dumped mask.
 */
function rebuildProcess(
  task: RemoteTask,
  t: TaskImages,
  special: SpecialPlan,
  tramp: number,
  kept: KeptVmas | undefined,
  files: OpenFiles,
  o: RestoreOptions,
  threads: RemoteTask[],
  masks: [number, bigint][],
  log: Log,
  baseNice: number,
): AddressSpaceStats {
  using chain = new PageChain(t.dir, t.pid, kept?.old); // a pre-built chain: its pagemaps decoded already
  const secbits = new InheritedSecbits(task); // asked with the address space's first batch
  checkVdso(special, task, chain);
  const opts = { trampoline: tramp, special, park: tramp + TRAMPOLINE_SIZE, pageFill: o.pageFill, kept };
  const memory = rebuildAddressSpace(task, t, opts, chain);
  log('debug', `process ${t.pid}: ${memory.vmas} mappings, ${memory.pages} pages in ${memory.writes} writes`);
  installFds(task, t, files);
  restoreProcessState(task, t);
  const leader = t.cores[0]!;
  const made = createThreads(task, t.pstree.threads.slice(1), tramp); // one stop for their clone3 calls
  threads.push(...made);
  for (const [k, thread] of made.entries()) {
    const i = k + 1;
    const tid = thread.pid;
    const core = t.cores[i]!;
    restoreThreadState(thread, core, leader);
    restoreFpu(thread, core);
    restoreSched(thread, core, baseNice);
    restoreCreds(thread, core.thread_core?.creds, secbits);
    restoreParentLinks(thread, core);
    queuePendingSignals(thread, t.pid, core);
    thread.flush(); // its queued calls set registers: before its own
    setRegs(tid, finalRegisters(core).bytes);
    masks.push([tid, dumpedSigmask(core, leader)]);
  }
  restoreThreadState(task, leader, leader);
  restoreFpu(task, leader);
  restoreSched(task, leader, baseNice);
  restoreItimers(task, t);
  restorePosixTimers(task, t);
  restoreCreds(task, leader.thread_core?.creds, secbits);
  restoreDumpable(task, t.mm.dumpable);
  restoreParentLinks(task, leader);
  queuePendingSignals(task, t.pid, leader);
  masks.push([t.pid, dumpedSigmask(leader, leader)]);
  log('debug', `process ${t.pid}: ${t.fds.length} descriptors, ${t.pstree.threads.length} threads complete`);
  return memory;
}

/**
 * The last step of a process: its registers are the dumped ones but rip at the trampoline's syscall and
 * rax = munmap(trampoline); at the syscall's exit the dumped registers are set: the trampoline is gone
 * and no instruction of the process ran.
 */
function finishLeader(task: RemoteTask, t: TaskImages, tramp: number): void {
  const regs = finalRegisters(t.cores[0]!);
  task.template.copyFrom(regs);
  task.callUntilExit('munmap the trampoline', RSYS.munmap, tramp, TRAMPOLINE_SIZE);
  setRegs(t.pid, regs.bytes);
}
