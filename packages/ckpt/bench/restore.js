// Restore benchmark (`npm run bench -w ckpt -- restore [--sizes 1,4] [--reps 3] [--fill writev|pread]`):
// the time from `ckpt restore -D DIR -d` starting to the process running again (its first heartbeat line),
// for restorable.c holding 1 and 4 GiB, dumped once by the full-dump prototype (images in the page cache),
// against `criu restore -d` of the same images in the same run (CKPT_CRIU=/path/to/criu) and against the
// floor: read_floor.c reading the same pages files into fresh memory. Runs alternate (ckpt, criu, floor)
// so that load changes hit all three. Prints a table and the ratios (goal: <= 1.0x CRIU, <= 2x the floor).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist');
const cli = join(here, '..', 'bin', 'ckpt.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function opt(args, name, dflt) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
}

/** Wait until `file` grows past `size` (the first heartbeat after a restore); ms since t0. */
async function firstBeat(file, size, t0, child) {
  let err = '';
  child.stderr?.on('data', (d) => {
    err += d;
  });
  for (let i = 0; i < 120_000; i++) {
    if (statSync(file).size > size) return performance.now() - t0;
    if (child.exitCode) {
      await sleep(200); // the rest of its stderr
      throw new Error(`${child.spawnargs.slice(0, 4).join(' ')}... exited with ${child.exitCode}: ${err}`);
    }
    await sleep(1);
  }
  throw new Error('no heartbeat after 120 s');
}

function reapKill(pid, waitpid, kill) {
  try {
    kill(pid, 9);
  } catch {
    return;
  }
  for (let i = 0; i < 5000; i++) {
    try {
      const w = waitpid(pid, 1 | 0x40000000);
      if (w.pid === pid) break;
    } catch {
      break;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
  }
  for (let i = 0; i < 5000 && existsSync(`/proc/${pid}`); i++)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
}

export async function run(args) {
  const sizes = String(opt(args, 'sizes', '1,4'))
    .split(',')
    .map(Number);
  const reps = Number(opt(args, 'reps', '3'));
  const fill = opt(args, 'fill', 'writev');
  const criu = process.env.CKPT_CRIU;
  const root = mkdtempSync(join(opt(args, 'dir', os.tmpdir()), 'ckpt-bench-restore-'));
  const { Fixture } = await import(join(dist, 'testing', 'index.js'));
  const { fullDumpProcess } = await import(join(dist, 'dump', 'full', 'index.js'));
  const { waitpid, kill } = await import(join(dist, 'sys', 'index.js'));
  const floorBin = join(os.tmpdir(), 'ckpt-bench-read_floor');
  execFileSync('gcc', ['-O2', '-o', floorBin, join(here, 'read_floor.c')]);
  console.log(
    `restore: sizes ${sizes.join(',')} GiB, ${reps} reps, pages by ${fill}; CRIU ${criu ?? 'not set (CKPT_CRIU)'}; ` +
      `load ${os.loadavg()[0].toFixed(2)}`,
  );
  const rows = [];
  try {
    for (const gib of sizes) {
      const dir = join(root, `${gib}g`);
      const f = await Fixture.start('restorable', [String(gib * 1024), '0', '-'], 900_000);
      await fullDumpProcess({ pid: f.pid, imagesDir: dir });
      f.kill();
      for (let i = 0; i < 5000 && existsSync(`/proc/${f.pid}`); i++) await sleep(1);
      // the log is an open file of the process: CRIU checks its size, so each run starts from the dumped one
      const dumpedSize = statSync(f.logFile).size;
      const pagesFiles = readdirSync(dir)
        .filter((n) => n.startsWith('pages-'))
        .map((n) => join(dir, n));
      const t = { ckpt: [], criu: [], floor: [] };
      for (let r = 0; r < reps; r++) {
        // ckpt
        truncateSync(f.logFile, dumpedSize);
        let t0 = performance.now();
        const child = spawn(process.execPath, [cli, 'restore', '-D', dir, '-d', '--page-fill', fill], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        t.ckpt.push(await firstBeat(f.logFile, dumpedSize, t0, child));
        await new Promise((res) => (child.exitCode !== null ? res() : child.on('exit', res)));
        reapKill(f.pid, waitpid, kill);
        // criu
        if (criu) {
          truncateSync(f.logFile, dumpedSize);
          t0 = performance.now();
          const c = spawn(
            'bash',
            [
              '-c',
              'ulimit -n 20000 && "$0" restore -D "$1" -d -o restore.log || { grep -E "Error|FAIL" "$1/restore.log" | grep -v RLIMIT >&2; exit 1; }',
              criu,
              dir,
            ],
            {
              stdio: 'ignore',
            },
          );
          t.criu.push(await firstBeat(f.logFile, dumpedSize, t0, c));
          await new Promise((res) => (c.exitCode !== null ? res() : c.on('exit', res)));
          reapKill(f.pid, waitpid, kill);
        }
        // floor
        const out = spawnSync(floorBin, pagesFiles, { encoding: 'utf8' });
        t.floor.push(JSON.parse(out.stdout).readNs / 1e6);
      }
      const row = {
        gib,
        ckptMs: median(t.ckpt),
        criuMs: criu ? median(t.criu) : undefined,
        floorMs: median(t.floor),
        all: t,
      };
      rows.push(row);
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  console.log('size   ckpt restore   criu restore   floor (read)   ckpt/criu   ckpt/floor');
  for (const r of rows) {
    const c = r.criuMs === undefined ? '-' : `${r.criuMs.toFixed(0)} ms`;
    const ratio = r.criuMs === undefined ? '-' : `${(r.ckptMs / r.criuMs).toFixed(2)}x`;
    console.log(
      `${r.gib} GiB  ${r.ckptMs.toFixed(0).padStart(8)} ms   ${c.padStart(12)}   ${r.floorMs.toFixed(0).padStart(9)} ms` +
        `   ${ratio.padStart(9)}   ${(r.ckptMs / r.floorMs).toFixed(2)}x`,
    );
  }
  console.log(JSON.stringify(rows.map(({ all, ...r }) => ({ ...r, runs: all }))));
}
