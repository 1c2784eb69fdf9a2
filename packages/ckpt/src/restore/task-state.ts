/**
 * The rest of a task's state, set once its memory is back (the kernel writes into the rseq area and the
 * handlers' addresses must mean something):
 *
 * ```
 * process (leader)  rt_sigaction for each of 1..64 but SIGKILL/SIGSTOP that differs from the clone's (SIG_DFL or
 *                   inherited SIG_IGN, no flags), umask, chdir, prlimit64 for each
 *                   resource limit that differs from the inherited one, personality (before the threads:
 *                   they inherit it); setitimer x 3 (restoreItimers,
 *                   late: ITIMER_REAL runs from then on); PR_SET_CHILD_SUBREAPER (restoreParentLinks)
 * each thread       set_tid_address, set_robust_list, rseq, sigaltstack, prctl(PR_SET_NAME) injected;
 *                   PTRACE_SETSIGMASK(all blocked: task-signals.ts), PTRACE_SETREGSET NT_X86_XSTATE
 *                   (fpregs + xsave); nice, policy and rt priority (restoreSched: before the creds, which
 *                   may drop CAP_SYS_NICE); creds (task-creds.ts), PR_SET_PDEATHSIG (restoreParentLinks, after
 *                   the creds: changing them resets it), pending signals (task-signals.ts), and SETREGS
 *                   (gpregs with fs/gs base) last: see restore-process.ts for the trampoline's removal
 * ```
 * Before the address space is torn down, the rseq area the helper's glibc registered is unregistered
 * (unregisterRseq): left registered, the kernel would write into whatever lands at its address.
 *
 * @example
 * unregisterRseq(task);             // before unmapping the helper's memory
 * restoreProcessState(task, images);
 * restoreThreadState(task, images.cores[0]!, images.cores[0]!);
 * const regs = finalRegisters(images.cores[0]!);
 */
import type { CoreEntry } from '../images/index.js';
import { readPersonality, readTaskCreds } from '../proc/index.js';
import { GPREG_NAMES, Registers } from '../ptrace/index.js';
import {
  getRlimits,
  getRseqConfig,
  getSched,
  getXstate,
  PR,
  RSEQ_FLAG_UNREGISTER,
  RSYS,
  setXstate,
} from '../sys/index.js';
import { RestoreError } from './errors.js';
import type { RemoteTask } from './remote-task.js';
import { putArg } from './task-args.js';
import type { TaskImages } from './task-images.js';
import { blockAllSignals } from './task-signals.js';

/** x86-64 numbers of the scheduling calls (injected: they act on the calling thread). */
const SYS_SETPRIORITY = 141;
const SYS_SCHED_SETSCHEDULER = 144;
const PRIO_PROCESS = 0;
const SIGKILL = 9;
const SIGSTOP = 19;
const SS_DISABLE = 2;

/** Unregister the rseq area the process inherited, if any. */
export function unregisterRseq(task: RemoteTask): void {
  const rseq = getRseqConfig(task.pid);
  if (!rseq || rseq.size === 0) return;
  task.call(
    'rseq unregister',
    RSYS.rseq,
    Number(rseq.pointer),
    rseq.size,
    RSEQ_FLAG_UNREGISTER,
    rseq.signature,
  );
}

/** The per-process part (sigactions, umask, cwd, rlimits, personality), injected into the leader of `t`. */
export function restoreProcessState(task: RemoteTask, t: TaskImages): void {
  const tc = t.cores[0]!.tc!;
  const sigactions = tc.sigactions ?? [];
  if (sigactions.length !== 62)
    throw new RestoreError('CORRUPT_IMAGE', `core-${t.pid}.img: ${sigactions.length} sigactions, not 62`);
  // only what differs from the clone's: after its exec every disposition is SIG_DFL (or SIG_IGN where
  // ignored before) with no flags, mask or restorer, as a dump records a default one; the rest in one
  // write of every struct, then a call each (62 calls and writes cost ~10 ms of a migration's downtime)
  const { sigIgn, sigCgt } = readTaskCreds(task.pid);
  const acts = Buffer.alloc(32 * 64);
  const set: number[] = [];
  let i = 0;
  for (let sig = 1; sig <= 64; sig++) {
    if (sig === SIGKILL || sig === SIGSTOP) continue;
    const a = sigactions[i++]!;
    const bit = 1n << BigInt(sig - 1);
    const now = sigCgt & bit ? undefined : sigIgn & bit ? 1n : 0n; // SIG_IGN, SIG_DFL
    if (now === a.sigaction && a.flags === 0n && a.mask === 0n && a.restorer === 0n) continue;
    const o = 32 * (sig - 1);
    acts.writeBigUInt64LE(a.sigaction, o);
    acts.writeBigUInt64LE(a.flags, o + 8);
    acts.writeBigUInt64LE(a.restorer, o + 16);
    acts.writeBigUInt64LE(a.mask, o + 24);
    set.push(sig);
  }
  if (set.length > 0) {
    const at = putArg(task, acts);
    for (const sig of set)
      task.queue(`rt_sigaction(${sig})`, RSYS.rt_sigaction, [sig, at + 32 * (sig - 1), 0, 8]);
  }
  if (t.fs.umask !== undefined) task.queue('umask', RSYS.umask, [t.fs.umask], { mayFail: true });
  const cwd = t.files.get(t.fs.cwd_id)?.reg?.name;
  if (cwd) {
    task.queue(`chdir ${cwd}`, RSYS.chdir, (at) => [at], { data: Buffer.from(`${cwd}\0`) });
  }
  const root = t.files.get(t.fs.root_id)?.reg?.name;
  if (root && root !== '/')
    throw new RestoreError('ENOTSUP', `process ${t.pid} had root ${root}: chroot is not restored yet`);
  restoreRlimits(task, t);
  const persona = dumpedPersonality(t.pid, t.cores[0]!.tc!.personality);
  if (persona !== readPersonality(task.pid))
    task.queue(`personality(0x${persona.toString(16)})`, RSYS.personality, [persona]);
}

/**
 * The thread's parent-death signal (reset by the kernel when creds change: set after them) and, in the
 * leader, the process's child-subreaper flag.
 */
export function restoreParentLinks(task: RemoteTask, core: CoreEntry): void {
  const pdeath = core.thread_core?.pdeath_sig ?? 0;
  if (pdeath !== 0) task.queue(`prctl(PR_SET_PDEATHSIG, ${pdeath})`, RSYS.prctl, [PR.SET_PDEATHSIG, pdeath]);
  if (core.tc?.child_subreaper)
    task.queue('prctl(PR_SET_CHILD_SUBREAPER, 1)', RSYS.prctl, [PR.SET_CHILD_SUBREAPER, 1]);
}

/** The persona byte and the flags (UNAME26 0x20000 .. ADDR_LIMIT_3GB 0x8000000) of a personality. */
const PERSONALITY_BITS = 0xff | 0x0ffe0000;

/**
 * The personality a core image holds. CRIU's dump reads /proc/PID/personality (hex text) with atoi, so
 * its images hold the hex digits read as decimal (ADDR_NO_RANDOMIZE, "00040000", as 40000 = 0x9c40); such
 * a value has bits no personality has (8..16) and is read back as hex; ckpt's dump writes the value.
 */
export function dumpedPersonality(pid: number, v: number): number {
  if ((v & ~PERSONALITY_BITS) === 0) return v;
  const fromDecimal = Number.parseInt(String(v), 16);
  if ((fromDecimal & ~PERSONALITY_BITS) === 0) return fromDecimal;
  throw new RestoreError(
    'CORRUPT_IMAGE',
    `core-${pid}.img: personality 0x${v.toString(16)} is none Linux has`,
  );
}

/** ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF of the process (setitimer in its leader; unarmed ones skipped). */
export function restoreItimers(task: RemoteTask, t: TaskImages): void {
  const timers = t.cores[0]!.tc!.timers;
  if (!timers) return;
  for (const [which, it] of [timers.real, timers.virt, timers.prof].entries()) {
    // a value of 0 with an interval: about to fire when dumped (CRIU arms it with the interval)
    const due = it.vsec === 0n && it.vusec === 0n;
    if (due && it.isec === 0n && it.iusec === 0n) continue;
    const v = Buffer.alloc(32);
    v.writeBigUInt64LE(it.isec, 0);
    v.writeBigUInt64LE(it.iusec, 8);
    v.writeBigUInt64LE(due ? it.isec : it.vsec, 16);
    v.writeBigUInt64LE(due ? it.iusec : it.vusec, 24);
    task.call(`setitimer(${which}, ${it.vsec}.${it.vusec}s)`, RSYS.setitimer, which, putArg(task, v), 0);
  }
}

const RLIMIT_NAMES = [
  'CPU',
  'FSIZE',
  'DATA',
  'STACK',
  'CORE',
  'RSS',
  'NPROC',
  'NOFILE',
  'MEMLOCK',
  'AS',
  'LOCKS',
  'SIGPENDING',
  'MSGQUEUE',
  'NICE',
  'RTPRIO',
  'RTTIME',
];

/**
 * The dumped resource limits, where they differ from the ones the clone inherited (prlimit64 injected).
 * Raising a hard limit needs CAP_SYS_RESOURCE: without it, one line (EPERM) naming the limit.
 */
function restoreRlimits(task: RemoteTask, t: TaskImages): void {
  const want = t.cores[0]!.tc!.rlimits?.rlimits ?? [];
  const live = getRlimits(task.pid);
  for (const [r, lim] of want.entries()) {
    const now = live[r];
    if (!now || (now.cur === lim.cur && now.max === lim.max)) continue;
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(lim.cur, 0);
    b.writeBigUInt64LE(lim.max, 8);
    const name = `RLIMIT_${RLIMIT_NAMES[r] ?? r}`;
    const what = `prlimit64(${name}, ${lim.cur}/${lim.max}, now ${now.cur}/${now.max})`;
    task.queue(what, RSYS.prlimit64, (at) => [0, r, at, 0], { data: b });
  }
}

/**
 * The per-thread part, injected into thread `task` (the leader or a thread made by task-clone.ts): clear_tid
 * address, robust list, rseq, sigaltstack, name; every signal blocked until the detach (the dumped mask
 * is put back then: task-signals.ts).
 */
export function restoreThreadState(task: RemoteTask, core: CoreEntry, leader: CoreEntry): void {
  task.queue('set_tid_address', RSYS.set_tid_address, [Number(core.thread_info!.clear_tid_addr)]);
  const th = core.thread_core;
  if (th && th.futex_rla !== 0n)
    task.queue('set_robust_list', RSYS.set_robust_list, [Number(th.futex_rla), th.futex_rla_len]);
  const rseq = th?.rseq_entry;
  if (rseq && rseq.rseq_abi_size > 0)
    task.queue('rseq', RSYS.rseq, [Number(rseq.rseq_abi_pointer), rseq.rseq_abi_size, 0, rseq.signature]);
  if (th?.sas && (th.sas.ss_flags & SS_DISABLE) === 0) {
    const ss = Buffer.alloc(24);
    ss.writeBigUInt64LE(th.sas.ss_sp, 0);
    ss.writeInt32LE(th.sas.ss_flags, 8);
    ss.writeBigUInt64LE(th.sas.ss_size, 16);
    task.queue('sigaltstack', RSYS.sigaltstack, (at) => [at, 0], { data: ss });
  }
  const comm = Buffer.alloc(16);
  comm.write((th?.comm ?? leader.tc!.comm).slice(0, 15));
  task.queue('prctl(PR_SET_NAME)', RSYS.prctl, (at) => [PR.SET_NAME, at], { data: comm });
  blockAllSignals(task);
}

/**
 * The thread's scheduling (CRIU's restore_sched_info, its order): setpriority(PRIO_PROCESS, 0, nice), then
 * sched_setscheduler(0, policy, { prio }), injected into the thread, each only where the dumped value
 * differs from the one the thread inherited. Lowering nice or a real-time policy needs CAP_SYS_NICE (the
 * restored creds may not have it: called before them); without it, one line (EPERM). `baseNice`: the
 * nice value a dump without one gets (the restore raises its threads while it builds them: the value
 * before that), else the live one stays.
 */
export function restoreSched(task: RemoteTask, core: CoreEntry, baseNice?: number): void {
  const th = core.thread_core;
  const live = getSched(task.pid);
  const nice = th?.sched_nice ?? baseNice ?? live.nice;
  const policy = th?.sched_policy ?? live.policy;
  const prio = th?.sched_policy === undefined ? live.prio : (th.sched_prio ?? 0);
  if (nice !== live.nice)
    task.queue(`setpriority(nice ${nice}, now ${live.nice})`, SYS_SETPRIORITY, [PRIO_PROCESS, 0, nice]);
  if (policy !== live.policy || prio !== live.prio) {
    const param = Buffer.alloc(4);
    param.writeInt32LE(prio, 0);
    const what = `sched_setscheduler(policy ${policy}, prio ${prio})`;
    task.queue(what, SYS_SCHED_SETSCHEDULER, (at) => [0, policy, at], { data: param });
  }
}

/** fpregs and the xsave components of `core` into the live XSAVE area of the task. */
export function restoreFpu(task: RemoteTask, core: CoreEntry): void {
  const fp = core.thread_info!.fpregs;
  const xs = getXstate(task.pid);
  const v = new DataView(xs.buffer, xs.byteOffset, xs.byteLength);
  v.setUint16(0, fp.cwd, true);
  v.setUint16(2, fp.swd, true);
  v.setUint16(4, fp.twd, true);
  v.setUint16(6, fp.fop, true);
  v.setBigUint64(8, fp.rip, true);
  v.setBigUint64(16, fp.rdp, true);
  v.setUint32(24, fp.mxcsr, true);
  v.setUint32(28, fp.mxcsr_mask, true);
  const u32 = (off: number, words: readonly number[] = []) => {
    for (let i = 0; i < words.length && off + i * 4 + 4 <= xs.length; i++)
      v.setUint32(off + i * 4, words[i]!, true);
  };
  const u64 = (off: number, words: readonly bigint[] = []) => {
    for (let i = 0; i < words.length && off + i * 8 + 8 <= xs.length; i++)
      v.setBigUint64(off + i * 8, words[i]!, true);
  };
  u32(32, fp.st_space);
  u32(160, fp.xmm_space);
  const x = fp.xsave;
  if (x && xs.length >= 576) {
    v.setBigUint64(512, x.xstate_bv, true);
    u32(576, x.ymmh_space);
    u64(960, x.bndreg_state);
    u64(1024, x.bndcsr_state);
    u64(1088, x.opmask_reg);
    u64(1152, x.zmm_upper);
    u64(1664, x.hi16_zmm);
    u32(2688, x.pkru);
  }
  setXstate(task.pid, xs);
}

/** The registers the task resumes with: the dumped gpregs (fs/gs base included), orig_rax -1. */
export function finalRegisters(core: CoreEntry): Registers {
  const g = core.thread_info!.gpregs;
  const r = new Registers();
  const v = new DataView(r.bytes.buffer);
  for (const [i, n] of GPREG_NAMES.entries()) v.setBigUint64(i * 8, g[n], true);
  r.set('orig_rax', -1);
  return r;
}
