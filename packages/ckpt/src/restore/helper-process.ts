/**
 * The helper: a process ckpt starts (`sleep`, as an orphan in its own session, not a child Node's
 * child_process knows), freezes and infects to run one clone3 with `set_tid` = the pid to restore. The
 * clone (CLONE_PARENT: a sibling of the helper, so it is ckpt's child when ckpt is a child subreaper, as the
 * helper then is) starts traced by ckpt, stopped before its first instruction; the helper is killed.
 *
 * ```
 * spawn `setsid sleep` (orphan; --shell-job: `sleep <&0`, in ckpt's session and group, its terminal as fd 0)
 *   -> wait until it sleeps -> freeze -> infect -> SETOPTIONS +TRACECLONE
 *   -> inject clone3({ CLONE_PARENT, exit_signal 0 (the helper's own: SIGCHLD), set_tid = [pid] }) -> child: EVENT_STOP, traced by us
 *   -> cure, thaw, SIGKILL the helper
 * ```
 * The child is a copy of the helper (its mappings, the injector's stub among them, its fds): the
 * restore rebuilds it in place. A pid already taken is refused before the helper starts (and the kernel
 * answers EEXIST if it is taken meanwhile).
 *
 * @example
 * const child = cloneWithPid(4242); // { pid: 4242, syscallAt }: a traced copy of `sleep`
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { readState } from '../proc/index.js';
import { freeze, Injector } from '../ptrace/index.js';
import {
  CLONE,
  cloneArgs,
  errnoName,
  kill,
  PTRACE,
  PTRACE_O,
  ptrace,
  SIG,
  SYS_CLONE3,
  setTidArray,
  WAIT,
  WStatus,
  waitpid,
} from '../sys/index.js';
import { RestoreError } from './errors.js';
import { killAndReap } from './reap.js';

/** Who holds `pid`, if anyone: its command name, or undefined. */
export function pidHolder(pid: number): string | undefined {
  if (!existsSync(`/proc/${pid}`)) return undefined;
  try {
    return `${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}`;
  } catch {
    return 'a process that just exited';
  }
}

function sleepUntil(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Start `sleep` as an orphan and wait until it sleeps in its own code. `shellJob`: in ckpt's session and
 * group, with ckpt's fd 0 (its terminal) as its own; otherwise in a session of its own, stdin /dev/null.
 */
function startHelper(shellJob: boolean): number {
  const cmd = shellJob
    ? 'sleep 600 <&0 >/dev/null 2>&1 & echo $!'
    : 'setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $!';
  const r = spawnSync('bash', ['-c', cmd], {
    encoding: 'utf8',
    stdio: [shellJob ? 'inherit' : 'ignore', 'pipe', 'pipe'],
  });
  const pid = Number(r.stdout.trim());
  if (!Number.isInteger(pid) || pid <= 0)
    throw new RestoreError('EIO', `could not start the helper: ${r.stderr}`);
  for (let i = 0; i < 2000; i++) {
    try {
      const exe = readlinkSync(`/proc/${pid}/exe`);
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
      if (exe.endsWith('/sleep') && state === 'S') return pid;
    } catch {
      throw new RestoreError('EIO', `the helper process ${pid} exited`);
    }
    sleepUntil(1);
  }
  kill(pid, SIG.SIGKILL);
  throw new RestoreError('EIO', `the helper process ${pid} did not start`);
}

/** Throw RestoreError EBUSY when `pid` is taken: "pid 4242 is taken (by sleep)" (`what`: pid, thread id). */
export function assertFree(pid: number, what = 'pid'): void {
  // a process just killed (after its dump) is a zombie until its parent reaps it: give that a moment
  for (let i = 0; i < 100 && readState(pid) === 'Z'; i++) sleepUntil(10);
  const holder = pidHolder(pid);
  if (holder === undefined) return;
  if (readState(pid) === 'Z')
    throw new RestoreError(
      'EBUSY',
      `${what} ${pid} is taken by a zombie (${holder}): its parent has not reaped it`,
    );
  throw new RestoreError('EBUSY', `${what} ${pid} is taken (by ${holder})`);
}

export interface ClonedTask {
  readonly pid: number;
  /** A `syscall` instruction in the clone: the injector's stub it inherited. */
  readonly syscallAt: number;
}

/**
 * A traced copy of a helper process with pid `pid`, stopped before running anything. Throws RestoreError
 * EBUSY when the pid is taken. `shellJob`: the copy is in ckpt's session and group and holds ckpt's
 * terminal at fd 0 (terminal.ts).
 */
export function cloneWithPid(pid: number, shellJob = false): ClonedTask {
  assertFree(pid);
  const helper = startHelper(shellJob);
  try {
    using frozen = freeze(helper);
    using inj = Injector.infect(frozen);
    const at = inj.scratch.address;
    inj.write(at + 128, setTidArray(pid));
    inj.write(at, cloneArgs({ flags: CLONE.PARENT, exitSignal: 0, setTidAt: at + 128 }));
    ptrace(PTRACE.SETOPTIONS, helper, 0, PTRACE_O.TRACESYSGOOD | PTRACE_O.TRACECLONE | PTRACE_O.EXITKILL);
    const r = inj.syscall(SYS_CLONE3, at, 88);
    if (r < 0) {
      const taken = r === -17 ? ` is taken (by ${pidHolder(pid) ?? 'a process that exited meanwhile'})` : '';
      throw new RestoreError(
        taken ? 'EBUSY' : 'EIO',
        taken ? `pid ${pid}${taken}` : `clone3 with pid ${pid}: ${errnoName(-r)}`,
      );
    }
    // the child stops (PTRACE_EVENT_STOP) before its first instruction, traced by us
    const w = waitpid(pid, WAIT.WALL);
    if (!WStatus.stopped(w.status)) throw new RestoreError('EIO', `the new process ${pid} exited at once`);
    const syscallAt = inj.stub;
    return { pid, syscallAt };
  } finally {
    killAndReap(helper);
  }
}
