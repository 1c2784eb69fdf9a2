// The downtime of `ckpt dump --leave-running` (the final checkpoint, CRIU's full image set) as the target's
// heartbeat sees it, after two pre-dumps, against `criu dump --leave-running` of the same target in the
// same run (with CKPT_CRIU=/path/to/criu, CRIU 4.x).
//
// Per size: one heartbeat fixture (test/fixtures/heartbeat.c: every page present, RATE% of its pages
// rewritten per second at random, a heartbeat thread that sleeps 1 ms in a loop and reports its longest
// gap on SIGUSR1; no FIFO or socket, so that both tools can dump it), filled before anything is timed.
// Then, per rep, a fresh chain through the CLI, as a user runs it:
//   ckpt pre-dump -D R/1 --json                                             full copy; tracking starts
//   (interval) ckpt pre-dump -D R/2 --prev-images-dir ../1 --json           incremental, unfrozen
//   (interval) ckpt dump -D R/3 --prev-images-dir ../2 --leave-running --json   the final dump
// and, once per size: `ckpt dump --leave-running` without pre-dumps (everything copied frozen), and with
// CKPT_CRIU `criu dump --leave-running` (its own full dump). Reported, medians over the reps:
//   stall     the target's longest heartbeat gap over the dump's run (what the target saw)
//   frozen    `frozenTime` of --json (ckpt's view: first SEIZE to the thaw)
//   written   pages the final dump copied; parent: pages left to the pre-dumps (PE_PARENT)
// and the ratio criu stall / ckpt stall.
//
// --log-dir DIR: the final dumps run with -v4 --log-file DIR/<size>g-<rep>.log.bin (kept), and each rep
// prints the dump's frozen phases (the `froze`, `frozen phase` and `thawed` lines, decoded).
//
// usage: npm run bench -w ckpt -- dump [--sizes 1,4] [--rate 1] [--reps 3] [--interval 1000] [--dir DIR]
//        [--log-dir DIR]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { phaseLines } from './phase-lines.js';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const cli = join(pkg, 'bin', 'ckpt.js');

function opt(args, name, def) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const ms = (us) => (us / 1000).toFixed(1);
const sleep = (t) => new Promise((r) => setTimeout(r, t));

/** Run the CLI; its --json line (the last line of stdout) parsed. */
function ckpt(args) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`ckpt ${args.join(' ')}: ${r.stderr.trim() || `status ${r.status}`}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** The fixture's longest heartbeat gap since the previous call, µs (SIGUSR1, then its STALL line). */
async function stall(f) {
  f.stalls = (f.stalls ?? 0) + 1;
  const n = f.stalls;
  process.kill(f.pid, 'SIGUSR1');
  const want = `STALL ${n} `;
  for (let i = 0; i < 3000; i++) {
    const hit = readFileSync(f.logFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(want));
    if (hit) return Number(hit.slice(want.length));
    await sleep(5);
  }
  throw new Error(`heartbeat: no report ${n}`);
}

export async function run(args) {
  const sizes = String(opt(args, 'sizes', '1,4'))
    .split(',')
    .map(Number);
  const ratePct = Number(opt(args, 'rate', '1'));
  const reps = Number(opt(args, 'reps', '3'));
  const interval = Number(opt(args, 'interval', '1000'));
  const root = mkdtempSync(join(opt(args, 'dir', os.tmpdir()), 'ckpt-bench-dump-'));
  const criu = process.env.CKPT_CRIU;
  const logDir = opt(args, 'log-dir', undefined);
  if (logDir) mkdirSync(logDir, { recursive: true });
  const { Fixture } = await import(join(pkg, 'dist', 'testing', 'index.js'));
  console.log(
    `final dump: sizes ${sizes.join(',')} GiB, ${ratePct}%/s written, ${reps} reps, ${interval} ms between ` +
      `pre-dumps; images in ${root}; criu ${criu ?? 'not set (CKPT_CRIU)'}; load ${os.loadavg()[0].toFixed(2)}`,
  );
  const summary = [];
  try {
    for (const gib of sizes) {
      const mib = gib * 1024;
      const rate = Math.max(1, Math.round((((mib * 1048576) / 4096) * ratePct) / 100)); // not mib << 20: 4 GiB overflows int32
      const t0 = performance.now();
      const f = await Fixture.start('heartbeat', [String(mib), String(rate)], 900_000);
      console.log(
        `\n${gib} GiB target ready in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${rate} pages/s`,
      );
      const rows = [];
      try {
        for (let r = 0; r < reps; r++) {
          const d = join(root, `${gib}g-${r}`);
          mkdirSync(d);
          const t = String(f.pid);
          ckpt(['pre-dump', '-t', t, '-D', join(d, '1'), '--json']);
          await sleep(interval);
          ckpt(['pre-dump', '-t', t, '-D', join(d, '2'), '--prev-images-dir', '../1', '--json']);
          await sleep(interval);
          await stall(f);
          const last = ckpt([
            'dump',
            '-t',
            t,
            '-D',
            join(d, '3'),
            '--prev-images-dir',
            '../2',
            '--leave-running',
            '--json',
            ...(logDir ? ['-v4', '--log-file', join(logDir, `${gib}g-${r + 1}.log.bin`)] : []),
          ]);
          const row = {
            stall: await stall(f),
            frozen: last.frozenTime,
            written: last.pagesWritten,
            parent: last.pagesSkippedParent ?? 0,
            total: last.totalTime,
            freezing: last.freezingTime,
            collect: last.collectTime ?? 0,
            copy: last.copyTime ?? 0,
            endTracking: last.endTrackingTime ?? 0,
          };
          rows.push(row);
          console.log(
            `  rep ${r + 1}: stall ${ms(row.stall)} ms, frozenTime ${ms(row.frozen)} ms, ${row.written} pages ` +
              `written, ${row.parent} left to the parent; ckpt dump took ${ms(row.total)} ms (frozen: freezing ` +
              `${ms(row.freezing)}, collect ${ms(row.collect)}, copy ${ms(row.copy)} ms; end tracking ` +
              `${ms(row.endTracking)} ms after the thaw)`,
          );
          if (logDir)
            for (const l of phaseLines(join(logDir, `${gib}g-${r + 1}.log.bin`))) console.log(`    ${l}`);
          rmSync(d, { recursive: true, force: true });
        }
        const d0 = join(root, `${gib}g-full`);
        await stall(f);
        const full = ckpt(['dump', '-t', String(f.pid), '-D', d0, '--leave-running', '--json']);
        const fullStall = await stall(f);
        rmSync(d0, { recursive: true, force: true });
        console.log(
          `  ckpt dump --leave-running without pre-dumps: stall ${ms(fullStall)} ms, frozenTime ${ms(full.frozenTime)} ms`,
        );
        let criuStall = null;
        if (criu) {
          const d = join(root, `${gib}g-criu`);
          mkdirSync(d);
          await stall(f);
          const r = spawnSync(
            'bash',
            [
              '-c',
              'ulimit -n 20000 && exec "$0" dump -t "$1" -D "$2" --leave-running --shell-job -o dump.log',
              criu,
              String(f.pid),
              d,
            ],
            { encoding: 'utf8' },
          );
          const s = await stall(f);
          if (r.status === 0) {
            criuStall = s;
            rmSync(d, { recursive: true, force: true });
            console.log(`  criu dump --leave-running: stall ${ms(s)} ms`);
          } else console.log(`  criu dump failed (status ${r.status}); see ${d}/dump.log`);
        }
        const m = (k) => median(rows.map((x) => x[k]));
        summary.push({
          gib,
          stallMs: m('stall') / 1000,
          frozenMs: m('frozen') / 1000,
          written: m('written'),
          parent: m('parent'),
          fullStallMs: fullStall / 1000,
          criuStallMs: criuStall !== null ? criuStall / 1000 : null,
        });
      } finally {
        f.kill();
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  console.log('\nsummary (medians):');
  for (const s of summary) {
    console.log(
      `  ${s.gib} GiB: ckpt dump after 2 pre-dumps: stall ${s.stallMs.toFixed(1)} ms (goal <= 50 at 4 GiB), ` +
        `frozenTime ${s.frozenMs.toFixed(1)} ms, ${s.written} pages written, ${s.parent} left to the parent; ` +
        `without pre-dumps ${s.fullStallMs.toFixed(0)} ms` +
        (s.criuStallMs !== null
          ? `; criu dump stall ${s.criuStallMs.toFixed(0)} ms = ${(s.criuStallMs / s.stallMs).toFixed(1)}x ours (goal >= 40x at 4 GiB)`
          : ''),
    );
  }
  console.log(JSON.stringify({ bench: 'dump', results: summary }));
}

if (import.meta.url === `file://${process.argv[1]}`) await run(process.argv.slice(2));
