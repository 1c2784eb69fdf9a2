/**
 * `ckpt restore` of one process (all its threads): the inverse of the full dump over the same images.
 *
 * ```
 * readTaskImages (everything decoded and checked before a pid is taken)
 *   -> cloneWithPid: a helper's traced copy with the dumped pid (helper-process.ts)
 *   -> the trampoline mapped where neither layout has anything (trampoline.ts), rseq unregistered
 *   -> vdso compared with the dump's; address space rebuilt (address-space.ts, vdso.ts, page-fill.ts)
 *   -> fds (fd-table.ts) -> sigactions, cwd, setsid (task-state.ts)
 *   -> each other thread: clone3 with set_tid from the leader (threads.ts), its tid address, robust list,
 *      rseq, name, mask, FPU state, registers (it stays stopped)
 *   -> the leader's per-thread state, FPU state
 *   -> registers = dumped ones, rip at the trampoline's syscall, rax = munmap(trampoline):
 *      PTRACE_SYSCALL to its exit, then SETREGS the dumped registers (the trampoline gone, no user
 *      instruction run yet) -> detach every thread: the process runs
 * ```
 * Any failure before the detach kills the process being built and reaps it (it never ran an instruction
 * of its own), and the helper is killed in every case: nothing is left behind. If ckpt itself dies
 * meanwhile, PTRACE_O_EXITKILL kills the half-built process.
 *
 * @example
 * const r = restoreProcess({ imagesDir: '/ckpt/final' }); // r.pid runs again
 * const status = await r.exited;                          // when ckpt is its parent (child subreaper)
 */

import { ImageDir, PageChain } from '../images/index.js';
import { readMaps } from '../proc/index.js';
import { MAP, PROT, RSYS, setRegs } from '../sys/index.js';
import { type AddressSpaceStats, rebuildAddressSpace } from './address-space.js';
import { RestoreError, restoreErrorFrom } from './errors.js';
import { restoreFds } from './fd-table.js';
import { cloneWithPid } from './helper-process.js';
import { RemoteTask } from './remote-task.js';
import { readTaskImages } from './task-images.js';
import {
  finalRegisters,
  restoreFpu,
  restoreProcessState,
  restoreThreadState,
  unregisterRseq,
} from './task-state.js';
import { createThread } from './threads.js';
import { findTrampoline, SYSCALL_CODE, TRAMPOLINE_SIZE } from './trampoline.js';
import { checkVdso, parkingSize, planSpecialMappings } from './vdso.js';

export interface RestoreOptions {
  readonly imagesDir: string;
  /** How pages get into the process: 'writev' (default) or 'pread' (see address-space.ts). */
  readonly pageFill?: 'writev' | 'pread';
  /** Test hook: called with the pid once the process is complete, before it runs (still stopped). */
  readonly beforeRun?: (pid: number) => void;
  /** Progress lines (the CLI's -v levels). */
  readonly log?: (level: 'info' | 'debug', message: string) => void;
}

export interface RestoreResult {
  readonly pid: number;
  /** Injected system calls it took. */
  readonly syscalls: number;
  readonly memory: AddressSpaceStats;
  /** Milliseconds from the start to the process running. */
  readonly millis: number;
}

/** Restore the process of a full dump (see the module comment). Throws RestoreError. */
export function restoreProcess(o: RestoreOptions): RestoreResult {
  const t0 = performance.now();
  const say = o.log ?? (() => {});
  const log = (level: 'info' | 'debug', m: string) =>
    say(level, `${(performance.now() - t0).toFixed(1)} ms: ${m}`);
  let task: RemoteTask | undefined;
  const threads: RemoteTask[] = [];
  try {
    const images = readTaskImages(ImageDir.open(o.imagesDir));
    const pid = images.pid;
    log('info', `restoring process ${pid} (${images.cores[0]!.tc!.comm}) from ${o.imagesDir}`);
    const clone = cloneWithPid(pid);
    log('debug', `process ${pid} cloned from a helper`);
    task = new RemoteTask(pid, clone.syscallAt);
    const live = readMaps(pid);
    const special = planSpecialMappings(live, images.mm.vmas);
    using chain = new PageChain(images.dir, pid);
    checkVdso(special, task, chain);
    const ranges = (xs: readonly { start: number | bigint; end: number | bigint }[]) =>
      xs.map((v) => [Number(v.start), Number(v.end)] as const);
    const park = parkingSize(special);
    const tramp = findTrampoline([ranges(live), ranges(images.mm.vmas)], park);
    const rwx = PROT.READ | PROT.WRITE | PROT.EXEC;
    const got = task.call(
      'mmap the trampoline',
      RSYS.mmap,
      tramp,
      TRAMPOLINE_SIZE,
      rwx,
      MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED_NOREPLACE,
      -1,
      0,
    );
    if (got !== tramp) throw new RestoreError('EIO', `the trampoline landed at 0x${got.toString(16)}`);
    task.write(tramp, SYSCALL_CODE);
    task.syscallAt = tramp;
    log('debug', `trampoline at 0x${tramp.toString(16)}`);
    unregisterRseq(task);
    const memory = rebuildAddressSpace(
      task,
      images,
      { trampoline: tramp, special, park: tramp + TRAMPOLINE_SIZE, pageFill: o.pageFill },
      chain,
    );
    log('debug', `${memory.vmas} mappings, ${memory.pages} pages in ${memory.writes} writes`);
    restoreFds(task, images, tramp);
    log('debug', `${images.fds.length} descriptors`);
    restoreProcessState(task, images, tramp);
    const leader = images.cores[0]!;
    for (const [i, tid] of images.pstree.threads.entries()) {
      if (i === 0) continue;
      const thread = createThread(task, tid, tramp);
      threads.push(thread);
      const core = images.cores[i]!;
      restoreThreadState(thread, core, leader, tramp);
      restoreFpu(thread, core);
      setRegs(tid, finalRegisters(core).bytes);
    }
    restoreThreadState(task, leader, leader, tramp);
    restoreFpu(task, leader);
    const regs = finalRegisters(leader);
    task.template.copyFrom(regs);
    log('debug', `${threads.length + 1} threads complete`);
    task.call('munmap the trampoline', RSYS.munmap, tramp, TRAMPOLINE_SIZE);
    setRegs(pid, regs.bytes);
    o.beforeRun?.(pid);
    const syscalls = task.calls + threads.reduce((n, t) => n + t.calls, 0);
    for (const t of threads) t.detach();
    task.detach();
    const millis = performance.now() - t0;
    log('info', `process ${pid} runs again (${syscalls} injected calls, ${millis.toFixed(1)} ms)`);
    return { pid, syscalls, memory, millis };
  } catch (e) {
    for (const t of threads) t.kill();
    task?.kill();
    throw restoreErrorFrom(e);
  }
}
