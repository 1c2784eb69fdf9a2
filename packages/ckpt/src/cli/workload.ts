/**
 * The demo's workload: demo/workload.c compiled with gcc (once, into the temp directory) and started as a
 * non-child (bash `setsid ... &`), so that it is an ordinary process owned by no one here, like any
 * target. It prints `READY pid=...` to its log file; `kill()` ends it.
 *
 * @example
 * using w = await Workload.start(256);
 * w.pid; w.kill();
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = resolve(dirname(fileURLToPath(import.meta.url)), '../../demo/workload.c');

function compile(): string {
  const dir = join(tmpdir(), `ckpt-demo-${process.getuid?.() ?? 0}`);
  const bin = join(dir, 'workload');
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(SOURCE).mtimeMs) return bin;
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}`;
  try {
    execFileSync('gcc', ['-O2', '-pthread', '-o', tmp, SOURCE], { stdio: 'pipe' });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    const why = err.code === 'ENOENT' ? 'gcc is not installed' : String(err.stderr ?? e).trim();
    throw Object.assign(new Error(`cannot build the demo workload: ${why}`), { code: 'ENOENT' });
  }
  renameSync(tmp, bin);
  return bin;
}

export class Workload {
  private alive = true;

  private constructor(
    readonly pid: number,
    readonly log: string,
  ) {}

  /** Build if needed, start with `mib` MiB, and wait for its READY line. */
  static async start(mib: number): Promise<Workload> {
    const bin = compile();
    const log = join(dirname(bin), `workload-${process.pid}-${Date.now()}.log`);
    const r = spawnSync('bash', ['-c', `setsid '${bin}' ${mib} >'${log}' 2>&1 </dev/null & echo $!`], {
      encoding: 'utf8',
    });
    const pid = Number(r.stdout.trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`cannot start the demo workload: ${r.stderr}`);
    const w = new Workload(pid, log);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
      if (text.includes('READY ')) return w;
      if (!existsSync(`/proc/${pid}`)) throw new Error(`the demo workload exited: ${text.trim()}`);
      await new Promise((res) => setTimeout(res, 20));
    }
    w.kill();
    throw new Error('the demo workload did not start in 60 s');
  }

  /** SIGKILL it (safe to call twice). */
  kill(): void {
    if (!this.alive) return;
    this.alive = false;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  [Symbol.dispose](): void {
    this.kill();
  }
}
