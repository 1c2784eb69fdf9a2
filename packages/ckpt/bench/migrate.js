// Live migration's downtime as the migrated process sees it: `ckpt migrate` to `ckpt receive` across two
// network namespaces joined by a veth pair (testing/netns-pair.ts), against the same migration done the
// CRIU way in the same run (with CKPT_CRIU=/path/to/criu, CRIU 4.x): `criu page-server` at the
// destination, one full `criu dump --page-server` at the source, the other images copied over, then
// `criu restore` at the destination.
//
// Per size and rep: a fresh migratee fixture (test/fixtures/migratee.c: every page present, RATE% of its
// pages rewritten per second, a 1 ms heartbeat thread whose longest gap it reports on SIGUSR1, and a check
// of its own memory), started in namespace a; the destination (receive, or criu restore) runs in
// namespace b inside a fresh pid namespace (the pid is taken at the source until the end). Reported:
//   gap       the heartbeat's longest gap across the migration (what the process saw), medians
//   source    downtime as ckpt migrate saw it: frozen (the final dump) + hand-over (last images,
//             the restore there, its RUNNING reply)
//   bytes     on the wire / (the first iteration's pages + every later delta): the goal is <= 1.2
//   check     the process's own memory check after the migration (must be ok)
//   restore   the destination's restore, phase by phase (receive -v3's `restore:` lines, ms from its start)
// --prebuild on (default): the destination builds the process while the source runs (docs/migrate.md);
// off: receive --no-prebuild (the restore after the final set only); both: each rep both ways, same run;
// --prebuild-fill: how pages get into the pre-built process (receive --prebuild-fill).
// --log-dir DIR: the source runs with -v4 --log-file DIR/<size>g-<rep>.log.bin (kept), and each rep prints
// its frozen window's phases from it (`source: frozen phase ...`).
// and the ratio CRIU's gap / ours. The goal (issue "ckpt migrate"): gap <= 100 ms at 4 GiB.
//
// usage: npm run bench -w ckpt -- migrate [--sizes 1,4] [--rate 1] [--reps 3] [--compress none|lz4|zstd]
//        [--max-downtime MS] [--prebuild on|off|both] [--prebuild-fill writev|pread] [--pre-copy N] [--no-criu]
//        [--log-dir DIR]
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { phaseLines } from './phase-lines.js';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const cli = join(pkg, 'bin', 'ckpt.js');
const {
  Fixture,
  NetnsPair,
  pidInChildNamespace: globalPid,
} = await import(join(pkg, 'dist', 'testing', 'index.js'));

function opt(args, name, def) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const sleep = (t) => new Promise((r) => setTimeout(r, t));

/** Start argv; resolves { status, out, err } at exit. */
function run(argv) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const r = { child, out: '', err: '' };
  child.stdout.on('data', (b) => {
    r.out += b;
  });
  child.stderr.on('data', (b) => {
    r.err += b;
  });
  r.done = new Promise((res) => child.on('exit', (code, sig) => res(code ?? (sig ? 128 : -1))));
  return r;
}

/** Whether `pid` runs (not stopped) with a SIGUSR1 handler installed. */
function handlesUsr1(pid) {
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const cgt = BigInt(`0x${/^SigCgt:\s+([0-9a-f]+)/m.exec(st)[1]}`);
    return (cgt & 0x200n) !== 0n && /^State:\s+[RS]/m.test(st);
  } catch {
    return false;
  }
}

async function waitFor(what, f, ms = 600_000) {
  for (let t = 0; t < ms; t += 20) {
    const v = f();
    if (v) return v;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** SIGUSR1 to `pid`; the fixture's n-th STALL (µs, and when that gap ended: wall-clock ms) and CHECK lines. */
async function report(f, pid, n) {
  process.kill(pid, 'SIGUSR1');
  const lines = () => readFileSync(f.logFile, 'utf8').split('\n');
  await waitFor(`report ${n}`, () => lines().filter((l) => l.startsWith('CHECK ')).length >= n, 30_000);
  const stall = lines().filter((l) => l.startsWith('STALL '))[n - 1];
  const [, , gapUs, endMs] = stall.split(' ');
  return {
    gapUs: Number(gapUs),
    gapEndMs: endMs === undefined ? undefined : Number(endMs),
    check: lines().filter((l) => l.startsWith('CHECK '))[n - 1],
  };
}

/** The fixture logs every heartbeat gap of this many ms or more (heartbeat.h CKPT_HEARTBEAT_LOG_MS). */
const GAP_LOG_MS = 40;
process.env.CKPT_HEARTBEAT_LOG_MS = String(GAP_LOG_MS);

let port = 28100 + (process.pid % 500);

async function ckptMigration(pair, f, root, o) {
  const dir = join(root, `recv-${port}`);
  const p = ++port;
  const recv = run(
    pair.exec('b', [
      'unshare',
      '--pid',
      '--fork',
      '--mount-proc',
      '--kill-child',
      process.execPath,
      cli,
      'receive',
      '-D',
      dir,
      '--port',
      String(p),
      '--address',
      pair.ips.b,
      '-v3',
      ...(o.prebuild ? ['--prebuild-fill', o.prebuildFill] : ['--no-prebuild']),
    ]),
  );
  await waitFor(
    'the receiver',
    () => recv.err.includes('listening on') || recv.child.exitCode !== null,
    30_000,
  );
  const args = [
    'migrate',
    '-t',
    String(f.pid),
    '--to',
    `${pair.ips.b}:${p}`,
    '--json',
    '--max-downtime',
    o.maxDowntime,
  ];
  if (o.compress) args.push('--compress', o.compress);
  if (o.preCopy) args.push('--pre-copy', o.preCopy);
  if (o.logFile) args.push('-v4', '--log-file', o.logFile);
  const src = run(pair.enter('a', [process.execPath, cli, ...args]));
  const status = await src.done;
  const exitedMs = Date.now();
  if (status !== 0) {
    recv.child.kill('SIGKILL');
    throw new Error(`ckpt migrate: ${src.err.trim()}`);
  }
  const lines = src.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const result = lines.at(-1).migrated;
  const there = await waitFor('the restored process', () => globalPid(f.pid), 30_000);
  const r = await report(f, there, 1);
  process.kill(there, 'SIGKILL');
  await recv.done;
  rmSync(dir, { recursive: true, force: true });
  const its = result.iterations;
  const image = its[0].pageBytes;
  const dirtied = its.slice(1).reduce((s, x) => s + x.pageBytes, 0);
  const phases = recv.err
    .split('\n')
    .filter((l) => /receive: (restore: |pre-built|restored |pre-build stopped)/.test(l))
    .map((l) => l.replace(/^.*receive: /, ''));
  // every gap of GAP_LOG_MS or more (the fixture's GAP lines), as ms before the source's exit: the window's
  // ends ~frozen + hand-over before it, an iteration's seconds before
  const gaps = readFileSync(f.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('GAP '))
    .map((l) => l.split(' '))
    .map(([, g, end]) => `${g} ms @-${exitedMs - Number(end)}`);
  return {
    gapMs: r.gapUs / 1000,
    gaps,
    // where the longest gap was: ~frozen + hand-over before the source's exit when it is the window's,
    // seconds before when an iteration's page-table work stalled the target
    gapEndBeforeExitMs: r.gapEndMs === undefined ? undefined : exitedMs - r.gapEndMs,
    gapEnd: r.gapEndMs === undefined ? undefined : new Date(r.gapEndMs).toISOString(),
    check: r.check,
    result,
    bytesRatio: result.bytesSent / (image + dirtied),
    phases,
  };
}

async function criuMigration(pair, f, root, criu) {
  const p = ++port;
  const dst = join(root, `criu-dst-${p}`);
  const src = join(root, `criu-src-${p}`);
  const ps = run(
    pair.exec('b', [
      'bash',
      '-c',
      `ulimit -n 20000; mkdir -p ${dst}; exec ${criu} page-server -D ${dst} --port ${p} --address ${pair.ips.b}`,
    ]),
  );
  await sleep(500);
  const t0 = performance.now();
  const d = spawnSync(
    'bash',
    [
      '-c',
      `ulimit -n 20000; mkdir -p ${src}; exec ${pair.enter('a').join(' ')} ${criu} dump -t ${f.pid} -D ${src} --shell-job --page-server --address ${pair.ips.b} --port ${p} -o dump.log`,
    ],
    { encoding: 'utf8' },
  );
  await ps.done;
  if (d.status !== 0) throw new Error(`criu dump failed (status ${d.status}); see ${src}/dump.log`);
  for (const n of readdirSync(src)) if (n.endsWith('.img')) copyFileSync(join(src, n), join(dst, n));
  const rst = run(
    pair.exec('b', [
      'bash',
      '-c',
      `ulimit -n 20000; exec unshare --pid --fork --mount-proc --kill-child ${criu} restore -D ${dst} --shell-job -o restore.log`,
    ]),
  );
  const there = await waitFor(
    'criu restore',
    () => globalPid(f.pid) ?? (rst.child.exitCode !== null ? -1 : undefined),
    600_000,
  );
  if (there < 0) throw new Error(`criu restore failed; see ${dst}/restore.log`);
  // signal it only once it runs with its SIGUSR1 handler (a SIGUSR1 before that would kill it)
  await waitFor('the restored process to run', () => handlesUsr1(there), 600_000);
  const r = await report(f, there, 1);
  const totalMs = performance.now() - t0;
  process.kill(there, 'SIGKILL');
  await rst.done;
  rmSync(dst, { recursive: true, force: true });
  rmSync(src, { recursive: true, force: true });
  return { gapMs: r.gapUs / 1000, check: r.check, totalMs };
}

export async function run_(args) {
  const sizes = opt(args, 'sizes', '1').split(',').map(Number);
  const rate = Number(opt(args, 'rate', '1'));
  const reps = Number(opt(args, 'reps', '3'));
  const o = {
    compress: opt(args, 'compress', undefined),
    maxDowntime: opt(args, 'max-downtime', '100'),
    preCopy: opt(args, 'pre-copy', undefined),
  };
  const prebuild = opt(args, 'prebuild', 'on');
  const logDir = opt(args, 'log-dir', undefined);
  if (logDir) mkdirSync(logDir, { recursive: true });
  o.prebuildFill = opt(args, 'prebuild-fill', 'writev');
  const ways = prebuild === 'both' ? [true, false] : [prebuild !== 'off'];
  const criu = args.includes('--no-criu') ? undefined : process.env.CKPT_CRIU;
  const pair = NetnsPair.create('mb', 42);
  if (typeof pair === 'string') {
    console.log(`migrate: skipped: ${pair}`);
    return;
  }
  const root = mkdtempSync(join(os.tmpdir(), 'ckpt-bench-migrate-'));
  console.log(
    `migrate: ${sizes.join(', ')} GiB, ${rate}%/s written, ${reps} reps, codec ${o.compress ?? 'none'}, ` +
      `criu ${criu ?? 'not set (CKPT_CRIU)'}; load ${os.loadavg()[0].toFixed(2)}`,
  );
  const summary = [];
  try {
    for (const gib of sizes) {
      const mib = gib * 1024;
      const pagesPerSec = Math.round((mib * 256 * rate) / 100);
      /** A fresh fixture in namespace a, given a second to settle. */
      const startFixture = async () => {
        const f = await Fixture.start(
          'migratee',
          [String(mib), String(pagesPerSec)],
          600_000,
          pair.enter('a'),
        );
        await sleep(1000);
        return f;
      };
      const ours = [];
      for (let k = 0; k < reps * ways.length; k++) {
        const way = ways[k % ways.length];
        const f = await startFixture();
        try {
          const logFile = logDir ? join(logDir, `${gib}g-${k + 1}.log.bin`) : undefined;
          const m = await ckptMigration(pair, f, root, { ...o, prebuild: way, logFile });
          const r = m.result;
          console.log(
            `  ${gib} GiB rep ${Math.floor(k / ways.length) + 1}${way ? '' : ' (--no-prebuild)'}: gap ${m.gapMs.toFixed(1)} ms; source: frozen ${r.frozenMs.toFixed(1)} + hand-over ${r.handoverMs.toFixed(1)} ms ` +
              `(restore ${r.restoreMs.toFixed(1)}); ${r.iterations.length - 1} iterations (${r.reason}), final ${r.iterations.at(-1).pagesWritten} pages; ` +
              `bytes ${m.bytesRatio.toFixed(3)}x; total ${(r.totalMs / 1000).toFixed(1)} s; ${m.check}` +
              (m.gapEnd === undefined
                ? ''
                : `; the longest gap ended ${m.gapEndBeforeExitMs} ms before the source's exit (${m.gapEnd.slice(11)})`),
          );
          if (m.gaps.length > 0)
            console.log(`      gaps >= ${GAP_LOG_MS} ms (ms before the source's exit): ${m.gaps.join(', ')}`);
          for (const l of m.phases) console.log(`      ${l}`);
          if (logFile) for (const l of phaseLines(logFile)) console.log(`      source: ${l.slice(11)}`);
          if (way === ways[0]) ours.push(m);
        } finally {
          f.kill();
        }
      }
      let criuGap = null;
      if (criu) {
        const f = await startFixture();
        try {
          const c = await criuMigration(pair, f, root, criu);
          criuGap = c.gapMs;
          console.log(`  ${gib} GiB the CRIU way: gap ${c.gapMs.toFixed(1)} ms; ${c.check}`);
        } catch (e) {
          console.log(`  ${gib} GiB the CRIU way failed: ${e.message}`);
        } finally {
          f.kill();
        }
      }
      const gap = median(ours.map((m) => m.gapMs));
      summary.push({
        gib,
        gapMs: gap,
        criuGapMs: criuGap,
        bytesRatio: median(ours.map((m) => m.bytesRatio)),
      });
      console.log(
        `${gib} GiB: heartbeat gap ${gap.toFixed(1)} ms (median of ${ours.length}; goal <= 100 ms at 4 GiB)` +
          (criuGap !== null
            ? `; the CRIU way ${criuGap.toFixed(1)} ms = ${(criuGap / gap).toFixed(1)}x ours`
            : '') +
          `; bytes on the wire ${median(ours.map((m) => m.bytesRatio)).toFixed(3)}x the image + what was dirtied (goal <= 1.2)`,
      );
    }
  } finally {
    pair.close();
    rmSync(root, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ bench: 'migrate', summary }));
}

export { run_ as run };
