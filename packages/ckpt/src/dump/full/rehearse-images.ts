/**
 * rehearseTaskImages: writeTaskImages run a few times on a sample of this very process (its maps, files,
 * mm fields; threads of zeros: ptrace/sampleThreadState) into a scratch directory, removed again. Its code
 * then runs compiled in a frozen window that writes images (a migration's final dump: the tree is frozen
 * until the destination runs it): the first call took ~11 ms there, a second ~3.4 ms (4 GiB migration,
 * both in the same window). The codecs' own rehearsal is rehearseCodecs (images/codec-warmup.ts).
 *
 * ```
 * sample    pid, ppid, ... of this process; 3 threads; 64 default sigactions; its first 40 VMAs (its
 *           file mappings stat'ed through map_files, as a target's), its regular-file descriptors
 * rounds    ImageDir.create(scratch/N), writeTaskImages, commit
 * ```
 * Best effort: a failure (no room in the temporary directory) only leaves the window as slow as before.
 *
 * @example
 * rehearseTaskImages(); // long before the freeze, ~20-60 ms
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageDir } from '../../images/index.js';
import {
  readAuxv,
  readFds,
  readMaps,
  readMmFields,
  readPersonality,
  readTaskCreds,
} from '../../proc/index.js';
import { sampleThreadState } from '../../ptrace/index.js';
import type { InjectedThreadState, Sigaction } from './injected-state.js';
import { readRlimits } from './rlimits.js';
import { pathFacts, type TaskState } from './task-state.js';
import { writeTaskImages } from './write-images.js';

/** This process as a dump would see it, in the parts writeTaskImages uses (see the module comment). */
function sampleState(): TaskState {
  const pid = process.pid;
  const creds = readTaskCreds(pid);
  const tids = [pid, pid + 1, pid + 2];
  const zero: Sigaction = { handler: 0n, flags: 0n, restorer: 0n, mask: 0n };
  const timer = { isec: 0n, iusec: 0n, vsec: 0n, vusec: 0n };
  const perThread = (tid: number): InjectedThreadState => ({
    tid,
    sigaltstack: { sp: 0n, size: 0n, flags: 2 },
    clearChildTid: 0n,
    pdeathSig: 0,
  });
  return {
    pid,
    ppid: process.ppid,
    pgid: pid,
    sid: pid,
    comm: 'rehearsal',
    threads: tids.map((tid) => ({ state: sampleThreadState(tid), creds, comm: 'rehearsal' })),
    sharedPending: [],
    injected: {
      sigactions: Array.from({ length: 64 }, () => zero),
      itimers: { real: timer, virt: timer, prof: timer },
      brk: 0n,
      dumpable: 1,
      securebits: 0,
      childSubreaper: false,
      thpDisabled: false,
      posixTimers: [],
      threads: new Map(tids.map((t) => [t, perThread(t)])),
      injection: { calls: 0, stops: 0 },
      ours: [],
    },
    posixTimers: [],
    mm: readMmFields(pid),
    auxv: readAuxv(pid),
    exe: pathFacts(pid, 'exe'),
    cwd: pathFacts(pid, 'cwd'),
    root: pathFacts(pid, 'root'),
    maps: readMaps(pid).slice(0, 40),
    vmFlags: new Map(),
    fds: readFds(pid).filter((f) => f.kind === 'file' && !f.deleted),
    ttys: new Map(),
    sockets: new Map(),
    pipes: new Map(),
    personality: readPersonality(pid),
    rlimits: readRlimits(pid),
    loginuid: 0xffffffff,
    oomScoreAdj: 0,
  };
}

/** Run writeTaskImages `rounds` times on the sample (see the module comment); false if it could not. */
export function rehearseTaskImages(rounds = 8): boolean {
  let scratch: string | undefined;
  try {
    const state = sampleState();
    scratch = mkdtempSync(join(tmpdir(), 'ckpt-rehearsal-'));
    for (let i = 0; i < rounds; i++) {
      const dir = ImageDir.create(join(scratch, String(i)));
      dir.setInventory(writeTaskImages(dir, [state]));
      dir.commit();
    }
    return true;
  } catch {
    return false;
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}
