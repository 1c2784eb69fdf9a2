/**
 * The processes a fault campaign dumps: each started as an orphan (bash `setsid ... &`, adopted by this
 * process as a child subreaper, never a child_process child), each with its own check of its memory.
 *
 * | kind     | what                                          | its own check (`checksum()`)                 |
 * |----------|-----------------------------------------------|----------------------------------------------|
 * | injectee | C fixture: 8 MiB of page-unique data, main    | `SUM n` of its data on SIGUSR1; its blocked   |
 * |          | thread blocked in read(), a sigwait() thread  | read() must never return (READ-RETURNED)      |
 * | redis    | redis-server with 1 M keys (DEBUG POPULATE)   | `DEBUG DIGEST` of the dataset, `DBSIZE`       |
 * | python   | python3 holding 16 MiB of seeded bytes        | `SUM n sha256` on SIGUSR1                     |
 *
 * `available(kind)` says why a kind cannot run here (redis-server or python3 missing): the campaign skips
 * it with that reason.
 *
 * @example
 * const t = await startTarget('injectee');
 * const before = await t.checksum(); ... ; (await t.checksum()) === before; t.stop();
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prctl, SIG, kill as sysKill, WAIT, WStatus, waitpid } from '../../sys/index.js';
import { FIXTURE_DIR, fixtureBinary } from '../fixture.js';
import { procState } from './probes.js';

export type TargetKind = 'injectee' | 'redis' | 'python';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function which(cmd: string): string | undefined {
  const r = spawnSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Why `kind` cannot run on this machine, or undefined when it can. */
export function unavailable(kind: TargetKind): string | undefined {
  if (kind === 'redis' && (!which('redis-server') || !which('redis-cli'))) {
    return 'redis-server/redis-cli not installed (apt-get install -y redis-server redis-tools)';
  }
  if (kind === 'python' && !which('python3')) return 'python3 not installed';
  return undefined;
}

let subreaper = false;

/** A running target. */
export interface Target {
  readonly kind: TargetKind;
  readonly pid: number;
  /** The target's own check of its memory: a value that must not change while nothing writes to it. */
  checksum(): Promise<string>;
  /** Something the target says went wrong by itself (e.g. READ-RETURNED), or ''. */
  selfReport(): string;
  /** One-letter state ('' once gone). */
  state(): string;
  /** SIGKILL, reap, remove its files. Safe twice. */
  stop(): void;
}

function startOrphan(argv: string[], log: string): number {
  if (!subreaper) {
    prctl(36 /* PR_SET_CHILD_SUBREAPER */, 1);
    subreaper = true;
  }
  const quoted = argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const r = spawnSync('bash', ['-c', `setsid ${quoted} >'${log}' 2>&1 </dev/null & echo $!`], {
    encoding: 'utf8',
  });
  const pid = Number(r.stdout.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`could not start ${argv[0]}: ${r.stderr}`);
  return pid;
}

function reapAfterKill(pid: number): void {
  try {
    sysKill(pid, SIG.SIGKILL);
  } catch {
    /* gone */
  }
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    try {
      const w = waitpid(pid, WAIT.WNOHANG | WAIT.WALL);
      if (w.pid === pid && !WStatus.stopped(w.status)) return;
    } catch {
      return;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
}

async function waitLine(log: string, re: RegExp, pid: number, what: string): Promise<RegExpExecArray> {
  for (let i = 0; i < 3000; i++) {
    const m = re.exec(existsSync(log) ? readFileSync(log, 'utf8') : '');
    if (m) return m;
    if (procState(pid) === '' || procState(pid) === 'Z') break;
    await sleep(10);
  }
  throw new Error(
    `${what}: no ${re} from ${pid}: ${existsSync(log) ? readFileSync(log, 'utf8').slice(-500) : ''}`,
  );
}

/** Start a target of `kind` and wait until it is ready. */
export async function startTarget(kind: TargetKind): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), `ckpt-faults-${kind}-`));
  const log = join(dir, 'out.log');
  let pid: number;
  let n = 0;
  const sumBySignal = async () => {
    n++;
    sysKill(pid, 10);
    return (await waitLine(log, new RegExp(`^SUM ${n} ([0-9a-f]+)$`, 'm'), pid, kind))[1]!;
  };
  const base = {
    kind,
    state: () => procState(pid),
    stop: () => {
      reapAfterKill(pid);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  /** Wait for the ready line; a target that never gets there is killed. */
  const ready = (re: RegExp) =>
    waitLine(log, re, pid, kind).catch((e) => {
      base.stop();
      throw e;
    });
  if (kind === 'injectee') {
    pid = startOrphan([fixtureBinary('injectee'), '8'], log);
    await ready(/^READY /m);
    return {
      ...base,
      pid,
      checksum: sumBySignal,
      selfReport: () => /READ-RETURNED.*/.exec(readFileSync(log, 'utf8'))?.[0] ?? '',
    };
  }
  if (kind === 'python') {
    pid = startOrphan(['python3', join(FIXTURE_DIR, 'py_holder.py'), '16'], log);
    await ready(/^READY /m);
    return {
      ...base,
      pid,
      checksum: sumBySignal,
      selfReport: () => /Traceback.*/.exec(readFileSync(log, 'utf8'))?.[0] ?? '',
    };
  }
  const sock = join(dir, 'redis.sock');
  pid = startOrphan(
    ['redis-server', '--port', '0', '--unixsocket', sock, '--save', '', '--appendonly', 'no', '--dir', dir],
    log,
  );
  await ready(/ready to accept connections/i);
  const cli = (...args: string[]) =>
    execFileSync('redis-cli', ['-s', sock, ...args], { encoding: 'utf8', timeout: 20_000 }).trim();
  cli('DEBUG', 'POPULATE', '1000000');
  return {
    ...base,
    pid,
    checksum: async () => `${cli('DBSIZE')} ${cli('DEBUG', 'DIGEST')}`,
    selfReport: () => /# (Redis crashed|=== REDIS BUG REPORT).*/.exec(readFileSync(log, 'utf8'))?.[0] ?? '',
  };
}
