/**
 * Credentials of a restored thread (they are per thread in Linux: each thread's own core image), injected
 * in the thread with the steps of CRIU's restorer (gids before uids), as the last privileged step before
 * its registers: while they are set the thread still has ckpt's capabilities (root), afterwards it may
 * have none.
 *
 * ```
 * prctl(PR_SET_SECUREBITS, live | NO_SETUID_FIXUP)   the capabilities survive the id changes below
 * setgroups(groups)                                  supplementary groups
 * setresgid(gid, egid, sgid), setfsgid(fsgid)
 * setresuid(uid, euid, suid), setfsuid(fsuid)
 * prctl(PR_SET_SECUREBITS, dumped)                   (needs CAP_SETPCAP: before capset)
 * prctl(PR_CAPBSET_DROP, cap)                        each capability the dumped bounding set lacks
 * capset(v3, effective, permitted, inheritable)
 * prctl(PR_CAP_AMBIENT, CLEAR_ALL / RAISE cap)       ambient set (needs permitted and inheritable)
 * prctl(PR_SET_NO_NEW_PRIVS, 1)                      if dumped so
 * ```
 * Nothing is called when the thread's live credentials (inherited from ckpt) already equal the dumped
 * ones. Changing the ids resets the process's dumpable flag: restoreDumpable puts the dumped one back.
 * Without CAP_SETUID/CAP_SETGID/CAP_SETPCAP (ckpt not root) a differing credential fails in one line (EPERM).
 *
 * @example
 * restoreCreds(thread, core.thread_core!.creds);   // each thread, after its other state
 * restoreDumpable(leader, images.mm.dumpable);                  // once per process, after the leader's
 */
import { readFileSync } from 'node:fs';
import type { CredsEntry } from '../images/index.js';
import { readTaskCreds } from '../proc/index.js';
import { PR, RSYS } from '../sys/index.js';
import { RestoreError } from './errors.js';
import type { RemoteTask } from './remote-task.js';

const SECBIT_NO_SETUID_FIXUP = 1 << 2;
const CAP_VERSION_3 = 0x20080522;
const PR_CAP_AMBIENT_RAISE = 2;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;

/** Two u32 words (low first), as images and /proc give capability sets, as one 64-bit set. */
const capSet = (w: readonly number[] = []): bigint => BigInt(w[0] ?? 0) | (BigInt(w[1] ?? 0) << 32n);

let lastCap: number | undefined;
/** The highest capability number this kernel knows. */
function capLastCap(): number {
  lastCap ??= Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  return lastCap;
}

/**
 * The securebits every thread of a process starts with: its leader's, which each thread inherits when it
 * is cloned (before any credential of the process changes: the leader's come last). Asked once, by a call
 * queued in the leader's batch (no stop of its own).
 *
 * @example
 * const secbits = new InheritedSecbits(leader); // before the threads are cloned
 * restoreCreds(thread, creds, secbits);
 */
export class InheritedSecbits {
  private value: number | undefined;

  constructor(private readonly leader: RemoteTask) {
    leader.queue('prctl(PR_GET_SECUREBITS)', RSYS.prctl, [PR.GET_SECUREBITS], {
      onResult: (v) => {
        this.value = v;
      },
    });
  }

  /** The value (the leader's queued calls run first if it is not known yet). */
  get(): number {
    if (this.value === undefined) this.leader.flush();
    if (this.value === undefined) throw new Error('PR_GET_SECUREBITS did not run');
    return this.value;
  }
}

/**
 * Set the dumped credentials `want` in the thread `task` (see the module comment); `secbits`: the ones the
 * thread inherited (asked in the thread itself without it).
 */
export function restoreCreds(
  task: RemoteTask,
  want: CredsEntry | undefined,
  secbits?: InheritedSecbits,
): void {
  if (!want) return;
  const groups = want.groups ?? [];
  const live = readTaskCreds(task.pid);
  const liveSecbits = secbits?.get() ?? task.call('prctl(PR_GET_SECUREBITS)', RSYS.prctl, PR.GET_SECUREBITS);
  const ids = (w: CredsEntry, u: boolean) =>
    u ? [w.uid, w.euid, w.suid, w.fsuid] : [w.gid, w.egid, w.sgid, w.fsgid];
  const same = (a: readonly number[], b: readonly number[]) =>
    a.length === b.length && a.every((x, i) => x === b[i]);
  const wantSets = {
    inh: capSet(want.cap_inh),
    prm: capSet(want.cap_prm),
    eff: capSet(want.cap_eff),
    bnd: capSet(want.cap_bnd),
    amb: capSet(want.cap_amb),
  };
  const liveSets = {
    inh: capSet(live.capInh),
    prm: capSet(live.capPrm),
    eff: capSet(live.capEff),
    bnd: capSet(live.capBnd),
    amb: capSet(live.capAmb),
  };
  const sameIds = same(ids(want, true), live.uid) && same(ids(want, false), live.gid);
  const sameGroups = same(groups, live.groups);
  const sameCaps = Object.entries(wantSets).every(([k, v]) => liveSets[k as keyof typeof liveSets] === v);
  const nnp = (want.no_new_privs ?? 0) !== 0 && live.noNewPrivs === 0;
  if (sameIds && sameGroups && sameCaps && liveSecbits === want.secbits && !nnp) return;

  const prctl = (what: string, a1: number, a2 = 0) =>
    task.queue(`prctl(${what})`, RSYS.prctl, [a1, a2, 0, 0, 0]);
  /** The securebits once the ids are set (the id calls do not change them). */
  let secbitsNow = liveSecbits;
  if (!sameIds || !sameGroups) {
    if ((liveSecbits & SECBIT_NO_SETUID_FIXUP) === 0) {
      secbitsNow = liveSecbits | SECBIT_NO_SETUID_FIXUP;
      prctl('PR_SET_SECUREBITS, NO_SETUID_FIXUP', PR.SET_SECUREBITS, secbitsNow);
    }
    if (!sameGroups) {
      const g = Buffer.alloc(4 * groups.length);
      for (const [i, x] of groups.entries()) g.writeUInt32LE(x, 4 * i);
      const what = `setgroups(${groups.join(',')})`;
      if (groups.length > 0) task.queue(what, RSYS.setgroups, (at) => [groups.length, at], { data: g });
      else task.queue(what, RSYS.setgroups, [0, 0]);
    }
    // gids before uids (CRIU sets uids first: with NO_SETUID_FIXUP either order keeps CAP_SETGID)
    for (const [res, fs, r, e, sv, f] of [
      ['gid', 'fsgid', want.gid, want.egid, want.sgid, want.fsgid],
      ['uid', 'fsuid', want.uid, want.euid, want.suid, want.fsuid],
    ] as const) {
      task.queue(`setres${res}(${r}, ${e}, ${sv})`, RSYS[`setres${res}`], [r, e, sv]);
      setFsId(task, RSYS[`set${fs}`], `set${fs}`, f);
    }
  }
  if (secbitsNow !== want.secbits)
    prctl(`PR_SET_SECUREBITS, ${want.secbits}`, PR.SET_SECUREBITS, want.secbits);
  for (let cap = 0; cap <= capLastCap(); cap++) {
    const bit = 1n << BigInt(cap);
    if ((liveSets.bnd & bit) !== 0n && (wantSets.bnd & bit) === 0n)
      prctl(`PR_CAPBSET_DROP, ${cap}`, PR.CAPBSET_DROP, cap);
  }
  const caps = Buffer.alloc(8 + 24);
  caps.writeUInt32LE(CAP_VERSION_3, 0);
  for (const [i, shift] of [0n, 32n].entries())
    for (const [j, set] of [wantSets.eff, wantSets.prm, wantSets.inh].entries())
      caps.writeUInt32LE(Number((set >> shift) & 0xffffffffn), 8 + 12 * i + 4 * j);
  task.queue('capset', RSYS.capset, (at) => [at, at + 8], { data: caps });
  if (liveSets.amb !== 0n) prctl('PR_CAP_AMBIENT, CLEAR_ALL', PR.CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL);
  for (let cap = 0; cap <= capLastCap(); cap++)
    if ((wantSets.amb & (1n << BigInt(cap))) !== 0n)
      task.queue(`prctl(PR_CAP_AMBIENT, RAISE, ${cap})`, RSYS.prctl, [
        PR.CAP_AMBIENT,
        PR_CAP_AMBIENT_RAISE,
        cap,
        0,
        0,
      ]);
  if (nnp) prctl('PR_SET_NO_NEW_PRIVS', PR.SET_NO_NEW_PRIVS, 1);
}

/** setfsuid/setfsgid answer the previous id, never an error: a second call with -1 tells whether it took. */
function setFsId(task: RemoteTask, nr: number, name: string, id: number): void {
  task.queue(name, nr, [id], { mayFail: true });
  task.queue(`${name}(-1)`, nr, [0xffffffff], {
    mayFail: true,
    onResult: (now) => {
      if (now !== id) throw new RestoreError('EPERM', `${name}(${id}) in process ${task.pid}: still ${now}`);
    },
  });
}

/** The dumped dumpable flag (0 or 1; prctl cannot set 2), after the credentials changed it. */
export function restoreDumpable(task: RemoteTask, dumpable: number | undefined): void {
  if (dumpable === 0 || dumpable === 1)
    task.queue(`prctl(PR_SET_DUMPABLE, ${dumpable})`, RSYS.prctl, [PR.SET_DUMPABLE, dumpable]);
}
