/**
 * TaskState -> one `core_entry` per thread (core-<tid>.img), as `criu dump` fills it on x86-64:
 *
 * ```
 * thread_info   clear_tid_addr, gpregs (mode NATIVE), fpregs (+ xsave components), tls[12..14]
 * tc            leader only: TASK_ALIVE, exit_code 0, personality, stat flags, leader's blocked mask,
 *               comm, itimers and POSIX timers (posix-timers.ts), 16 rlimits, 62 sigactions (1..64
 *               without SIGKILL/SIGSTOP), loginuid, oom_score_adj, child_subreaper, signals_s (the
 *               process's queued signals)
 * thread_core   futex_rla(+len), sched, blocked mask (non-leaders), sigaltstack, pdeath_sig, creds,
 *               comm, rseq_entry, signals_p (the thread's queued signals)
 * ```
 *
 * @example
 * const cores = coreEntries(state); // Map tid -> CoreEntry
 */
import {
  type CoreEntry,
  type CredsEntry,
  MTYPE_X86_64,
  type SaEntry,
  TASK_ALIVE,
  type ThreadCoreEntry,
} from '../../images/index.js';
import { posixTimerEntries } from './posix-timers.js';
import type { TaskState, TaskThread } from './task-state.js';

const SA_RESTORER_SKIPPED = new Set([9, 19]);

function creds(t: TaskThread, securebits: number): CredsEntry {
  const c = t.creds;
  return {
    uid: c.uid[0],
    euid: c.uid[1],
    suid: c.uid[2],
    fsuid: c.uid[3],
    gid: c.gid[0],
    egid: c.gid[1],
    sgid: c.gid[2],
    fsgid: c.gid[3],
    cap_inh: [...c.capInh],
    cap_prm: [...c.capPrm],
    cap_eff: [...c.capEff],
    cap_bnd: [...c.capBnd],
    cap_amb: [...c.capAmb],
    secbits: securebits,
    groups: [...c.groups],
    no_new_privs: c.noNewPrivs,
  };
}

function threadCore(s: TaskState, t: TaskThread, leader: boolean): ThreadCoreEntry {
  const st = t.state;
  const inj = s.injected.threads.get(st.tid);
  if (!inj) throw new Error(`no injected state for thread ${st.tid}`);
  return {
    futex_rla: st.robustList.head,
    futex_rla_len: st.robustList.len,
    sched_nice: st.sched.nice,
    sched_policy: st.sched.policy,
    ...(st.sched.policy !== 0 ? { sched_prio: st.sched.prio } : {}),
    ...(leader ? {} : { blk_sigset: st.blocked }),
    sas: { ss_sp: inj.sigaltstack.sp, ss_size: inj.sigaltstack.size, ss_flags: inj.sigaltstack.flags },
    pdeath_sig: inj.pdeathSig,
    signals_p: { signals: st.pending.map((siginfo) => ({ siginfo })) },
    creds: creds(t, s.injected.securebits),
    comm: t.comm,
    ...(st.rseq
      ? {
          rseq_entry: {
            rseq_abi_pointer: st.rseq.pointer,
            rseq_abi_size: st.rseq.size,
            signature: st.rseq.signature,
          },
        }
      : {}),
  };
}

/** The core entry of every thread of `s`, by tid. */
export function coreEntries(s: TaskState): Map<number, CoreEntry> {
  const out = new Map<number, CoreEntry>();
  const sigactions: SaEntry[] = [];
  for (let sig = 1; sig <= 64; sig++) {
    if (SA_RESTORER_SKIPPED.has(sig)) continue;
    const a = s.injected.sigactions[sig - 1]!;
    sigactions.push({
      sigaction: a.handler,
      flags: a.flags,
      restorer: a.restorer,
      mask: a.mask,
      compat_sigaction: false,
    });
  }
  for (const t of s.threads) {
    const st = t.state;
    const leader = st.tid === s.pid;
    const inj = s.injected.threads.get(st.tid)!;
    const core: CoreEntry = {
      mtype: MTYPE_X86_64,
      thread_info: {
        clear_tid_addr: inj.clearChildTid,
        gpregs: { ...st.gpregs, mode: 1 },
        fpregs: { ...st.fpregs, ...(st.xsave ? { xsave: st.xsave } : {}) },
        tls: st.tls,
      },
      thread_core: threadCore(s, t, leader),
    };
    if (leader) {
      core.tc = {
        task_state: TASK_ALIVE,
        exit_code: 0,
        personality: s.personality,
        flags: s.mm.flags,
        blk_sigset: st.blocked,
        comm: s.comm,
        timers: {
          ...s.injected.itimers,
          posix: posixTimerEntries(s.posixTimers, s.injected.posixTimers),
        },
        rlimits: { rlimits: [...s.rlimits] },
        signals_s: { signals: s.sharedPending.map((siginfo) => ({ siginfo })) },
        loginuid: s.loginuid,
        oom_score_adj: s.oomScoreAdj,
        sigactions,
        child_subreaper: s.injected.childSubreaper,
      };
    }
    out.set(st.tid, core);
  }
  return out;
}
