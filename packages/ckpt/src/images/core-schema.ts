/**
 * Our protobuf schema of `core-<tid>.img` (CRIU 4.2's `images/core.proto`, `core-x86.proto`, `sa.proto`,
 * `creds.proto`, `timer.proto`, `rlimit.proto`, `rseq.proto`, `siginfo.proto`; field numbers as there),
 * x86-64 only. 64-bit fields are bigint (bigint-codec.ts). One core entry per thread:
 *
 * ```
 * core_entry
 *  |- mtype = X86_64 (1)
 *  |- thread_info: clear_tid_addr, gpregs (user_x86_regs_entry), fpregs (fxsave + xsave parts), tls[3]
 *  |- tc (leader only): state, exit code, personality, flags, blk_sigset, comm, timers, rlimits,
 *  |                    sigactions (62 = 64 minus SIGKILL/SIGSTOP), child_subreaper, ...
 *  '- thread_core: futex_rla(+len), sched, blk_sigset, sas, pdeath_sig, creds, comm, rseq_entry
 * ```
 *
 * @example
 * const bytes = coreEntryCodec.encode(core);
 * coreEntryCodec.decode(bytes).thread_info?.gpregs.ip === core.thread_info?.gpregs.ip; // true
 */
import protobuf from 'protobufjs';
import type { Fxsave, TlsDesc, XsaveParts } from '../ptrace/index.js';
import { bigintCodec } from './bigint-codec.js';
import type { SaEntry, TaskKobjIdsEntry } from './schema.js';

const PROTO = `
syntax = "proto2";

message rlimit_entry { required uint64 cur = 1; required uint64 max = 2; }
message task_rlimits_entry { repeated rlimit_entry rlimits = 1; }

message itimer_entry {
  required uint64 isec = 1; required uint64 iusec = 2; required uint64 vsec = 3; required uint64 vusec = 4;
}
message posix_timer_entry {
  required uint32 it_id = 1; required uint32 clock_id = 2; required uint32 si_signo = 3;
  required uint32 it_sigev_notify = 4; required uint64 sival_ptr = 5; required uint32 overrun = 6;
  required uint64 isec = 7; required uint64 insec = 8; required uint64 vsec = 9; required uint64 vnsec = 10;
  optional int32 notify_thread_id = 11;
}
message task_timers_entry {
  required itimer_entry real = 1; required itimer_entry virt = 2; required itimer_entry prof = 3;
  repeated posix_timer_entry posix = 4;
}

message creds_entry {
  required uint32 uid = 1; required uint32 gid = 2; required uint32 euid = 3; required uint32 egid = 4;
  required uint32 suid = 5; required uint32 sgid = 6; required uint32 fsuid = 7; required uint32 fsgid = 8;
  repeated uint32 cap_inh = 9; repeated uint32 cap_prm = 10; repeated uint32 cap_eff = 11;
  repeated uint32 cap_bnd = 12; required uint32 secbits = 13; repeated uint32 groups = 14;
  optional string lsm_profile = 15; optional string lsm_sockcreate = 16; optional bytes apparmor_data = 17;
  optional uint32 no_new_privs = 18; repeated uint32 cap_amb = 19;
}

message sa_entry {
  required uint64 sigaction = 1; required uint64 flags = 2; required uint64 restorer = 3;
  required uint64 mask = 4; optional bool compat_sigaction = 5; optional uint64 mask_extended = 6;
}

message rseq_entry {
  required uint64 rseq_abi_pointer = 1; required uint32 rseq_abi_size = 2; required uint32 signature = 3;
  optional uint64 rseq_cs_pointer = 4;
}

message siginfo_entry { required bytes siginfo = 1; }
message signal_queue_entry { repeated siginfo_entry signals = 1; }

message task_kobj_ids_entry {
  required uint32 vm_id = 1; required uint32 files_id = 2; required uint32 fs_id = 3;
  required uint32 sighand_id = 4; optional uint32 pid_ns_id = 5; optional uint32 net_ns_id = 6;
  optional uint32 ipc_ns_id = 7; optional uint32 uts_ns_id = 8; optional uint32 mnt_ns_id = 9;
  optional uint32 user_ns_id = 10; optional uint32 cgroup_ns_id = 11; optional uint32 time_ns_id = 12;
}

message user_x86_regs_entry {
  required uint64 r15 = 1; required uint64 r14 = 2; required uint64 r13 = 3; required uint64 r12 = 4;
  required uint64 bp = 5; required uint64 bx = 6; required uint64 r11 = 7; required uint64 r10 = 8;
  required uint64 r9 = 9; required uint64 r8 = 10; required uint64 ax = 11; required uint64 cx = 12;
  required uint64 dx = 13; required uint64 si = 14; required uint64 di = 15; required uint64 orig_ax = 16;
  required uint64 ip = 17; required uint64 cs = 18; required uint64 flags = 19; required uint64 sp = 20;
  required uint64 ss = 21; required uint64 fs_base = 22; required uint64 gs_base = 23; required uint64 ds = 24;
  required uint64 es = 25; required uint64 fs = 26; required uint64 gs = 27; optional uint32 mode = 28;
}
message user_x86_cet_entry { required uint64 cet = 1; required uint64 ssp = 2; }
message user_x86_xsave_entry {
  required uint64 xstate_bv = 1; repeated uint32 ymmh_space = 2; repeated uint64 bndreg_state = 3;
  repeated uint64 bndcsr_state = 4; repeated uint64 opmask_reg = 5; repeated uint64 zmm_upper = 6;
  repeated uint64 hi16_zmm = 7; repeated uint32 pkru = 8; optional user_x86_cet_entry cet = 9;
}
message user_x86_fpregs_entry {
  required uint32 cwd = 1; required uint32 swd = 2; required uint32 twd = 3; required uint32 fop = 4;
  required uint64 rip = 5; required uint64 rdp = 6; required uint32 mxcsr = 7; required uint32 mxcsr_mask = 8;
  repeated uint32 st_space = 9; repeated uint32 xmm_space = 10; repeated uint32 padding = 11;
  optional user_x86_xsave_entry xsave = 13;
}
message user_desc_t {
  required uint32 entry_number = 1; required uint32 base_addr = 2; required uint32 limit = 3;
  required bool seg_32bit = 4; required bool contents_h = 5; required bool contents_l = 6;
  required bool read_exec_only = 7; required bool limit_in_pages = 8; required bool seg_not_present = 9;
  required bool usable = 10;
}
message thread_info_x86 {
  required uint64 clear_tid_addr = 1; required user_x86_regs_entry gpregs = 2;
  required user_x86_fpregs_entry fpregs = 3; repeated user_desc_t tls = 4;
}

message task_core_entry {
  required uint32 task_state = 1; required uint32 exit_code = 2; required uint32 personality = 3;
  required uint32 flags = 4; required uint64 blk_sigset = 5; required string comm = 6;
  optional task_timers_entry timers = 7; optional task_rlimits_entry rlimits = 8; optional uint32 cg_set = 9;
  optional signal_queue_entry signals_s = 10; optional uint32 old_seccomp_mode = 11;
  optional uint32 old_seccomp_filter = 12; optional uint32 loginuid = 13; optional int32 oom_score_adj = 14;
  repeated sa_entry sigactions = 15; optional bool child_subreaper = 18; optional uint64 blk_sigset_extended = 20;
  optional uint32 stop_signo = 21; optional uint32 membarrier_registration_mask = 22;
}
message thread_sas_entry { required uint64 ss_sp = 1; required uint64 ss_size = 2; required uint32 ss_flags = 3; }
message thread_core_entry {
  required uint64 futex_rla = 1; required uint32 futex_rla_len = 2; optional sint32 sched_nice = 3;
  optional uint32 sched_policy = 4; optional uint32 sched_prio = 5; optional uint64 blk_sigset = 6;
  optional thread_sas_entry sas = 7; optional uint32 pdeath_sig = 8; optional signal_queue_entry signals_p = 9;
  optional creds_entry creds = 10; optional uint32 seccomp_mode = 11; optional uint32 seccomp_filter = 12;
  optional string comm = 13; optional uint64 blk_sigset_extended = 14; optional rseq_entry rseq_entry = 15;
  optional uint32 cg_set = 16;
}
message core_entry {
  required uint32 mtype = 1; optional thread_info_x86 thread_info = 2; optional task_core_entry tc = 3;
  optional task_kobj_ids_entry ids = 4; optional thread_core_entry thread_core = 5;
}
`;

/** `core_entry.mtype` of x86-64. */
export const MTYPE_X86_64 = 1;
/** `task_core_entry.task_state` of a live task (CRIU's TASK_ALIVE). */
export const TASK_ALIVE = 1;
/** `task_core_entry.task_state` of a zombie (CRIU's TASK_DEAD): its core holds only `tc`. */
export const TASK_DEAD = 2;

export interface RlimitEntry {
  cur: bigint;
  max: bigint;
}
export interface ItimerEntry {
  isec: bigint;
  iusec: bigint;
  vsec: bigint;
  vusec: bigint;
}
/** A POSIX timer (timer_create) of the process: its id, event, interval and value (timer.proto). */
export interface PosixTimerEntry {
  it_id: number;
  clock_id: number;
  si_signo: number;
  /** SIGEV_SIGNAL 0, SIGEV_NONE 1, SIGEV_THREAD 2, | SIGEV_THREAD_ID 4. */
  it_sigev_notify: number;
  sival_ptr: bigint;
  overrun: number;
  isec: bigint;
  insec: bigint;
  vsec: bigint;
  vnsec: bigint;
  /** The thread a SIGEV_THREAD_ID timer signals. */
  notify_thread_id?: number;
}
export interface TaskTimersEntry {
  real: ItimerEntry;
  virt: ItimerEntry;
  prof: ItimerEntry;
  posix?: PosixTimerEntry[];
}
export interface CredsEntry {
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  suid: number;
  sgid: number;
  fsuid: number;
  fsgid: number;
  /** Capability sets as u32 words, low word first (2 words: 64 capabilities). */
  cap_inh: number[];
  cap_prm: number[];
  cap_eff: number[];
  cap_bnd: number[];
  cap_amb?: number[];
  secbits: number;
  groups: number[];
  no_new_privs?: number;
}
/** One signal's disposition: handler address, SA_* flags, restorer, the mask during the handler. */
export interface RseqEntry {
  rseq_abi_pointer: bigint;
  rseq_abi_size: number;
  signature: number;
  rseq_cs_pointer?: bigint;
}
export interface SignalQueueEntry {
  signals: { siginfo: Uint8Array }[];
}
/** `struct user_regs_struct` under CRIU's names. */
export interface UserX86RegsEntry {
  r15: bigint;
  r14: bigint;
  r13: bigint;
  r12: bigint;
  bp: bigint;
  bx: bigint;
  r11: bigint;
  r10: bigint;
  r9: bigint;
  r8: bigint;
  ax: bigint;
  cx: bigint;
  dx: bigint;
  si: bigint;
  di: bigint;
  orig_ax: bigint;
  ip: bigint;
  cs: bigint;
  flags: bigint;
  sp: bigint;
  ss: bigint;
  fs_base: bigint;
  gs_base: bigint;
  ds: bigint;
  es: bigint;
  fs: bigint;
  gs: bigint;
  /** 1 NATIVE, 2 COMPAT */
  mode?: number;
}
/** The xsave header's xstate_bv and the components the CPU has (ymmh 64 u32, opmask 8 u64, ...). */
export type UserX86XsaveEntry = XsaveParts;
/** The fxsave area (512 bytes: 32 u32 of x87 registers, 64 u32 of XMM) and, optionally, the xsave parts. */
export interface UserX86FpregsEntry extends Fxsave {
  padding?: number[];
  xsave?: UserX86XsaveEntry;
}
/** A GDT TLS entry (`struct user_desc`). */
export type UserDescT = TlsDesc;
export interface ThreadInfoX86 {
  clear_tid_addr: bigint;
  gpregs: UserX86RegsEntry;
  fpregs: UserX86FpregsEntry;
  tls?: UserDescT[];
}
export interface TaskCoreEntry {
  task_state: number;
  exit_code: number;
  personality: number;
  flags: number;
  blk_sigset: bigint;
  comm: string;
  timers?: TaskTimersEntry;
  rlimits?: { rlimits: RlimitEntry[] };
  signals_s?: SignalQueueEntry;
  loginuid?: number;
  oom_score_adj?: number;
  sigactions?: SaEntry[];
  child_subreaper?: boolean;
  stop_signo?: number;
}
export interface ThreadSasEntry {
  ss_sp: bigint;
  ss_size: bigint;
  ss_flags: number;
}
export interface ThreadCoreEntry {
  futex_rla: bigint;
  futex_rla_len: number;
  sched_nice?: number;
  sched_policy?: number;
  sched_prio?: number;
  blk_sigset?: bigint;
  sas?: ThreadSasEntry;
  pdeath_sig?: number;
  signals_p?: SignalQueueEntry;
  creds?: CredsEntry;
  /** 0 disabled, 1 strict, 2 filter */
  seccomp_mode?: number;
  comm?: string;
  rseq_entry?: RseqEntry;
}
/** One `core-<tid>.img` entry. Non-leader threads carry no `tc` and no `ids`. */
export interface CoreEntry {
  mtype: number;
  thread_info?: ThreadInfoX86;
  tc?: TaskCoreEntry;
  ids?: TaskKobjIdsEntry;
  thread_core?: ThreadCoreEntry;
}

const root = protobuf.parse(PROTO, { keepCase: true }).root;

/** Codec of `core_entry` (core-<tid>.img). */
export const coreEntryCodec = bigintCodec<CoreEntry>(root, 'core_entry');
/** Codec of `task_kobj_ids_entry` (ids-<pid>.img), with this file's types. */
export const kobjIdsCodec = bigintCodec<TaskKobjIdsEntry>(root, 'task_kobj_ids_entry');
