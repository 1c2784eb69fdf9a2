// The last freeze of a chain: what the frozen step of `ckpt pre-dump --freeze` costs the target, against the
// physical floor measured in the same run.
//
// Per size: one writer fixture (test/fixtures/writer.c: every page present, RATE% of its pages rewritten per
// second at random, a heartbeat thread that sleeps 1 ms in a loop and records its longest gap), filled before
// anything is timed. Then, per rep, a fresh chain through the CLI, as a user runs it:
//   ckpt pre-dump -D R/1 --json                                  full copy; tracking starts
//   (interval) ckpt pre-dump -D R/2 --prev-images-dir ../1 --json  unfrozen incremental step
//   (interval) ckpt pre-dump -D R/3 --prev-images-dir ../2 --freeze --json   the frozen step
// and reports, medians over the reps:
//   stall      the target's longest heartbeat gap over the frozen step's run (as the target saw it)
//   frozen     `frozenTime` of --json (ckpt's view: first SEIZE to the thaw)
//   written    pages the frozen step copied
//   floor      floor.c on the same target: one PAGEMAP_SCAN walk of the region + process_vm_readv of the
//              same number of pages (random, sorted), nothing written: what no tool can go under
//   incr       the unfrozen incremental step's totalTime and pages, against floor scan + copy + the pages'
//              bytes at the image directory's write bandwidth (a 256 MiB sequential write + fsync there)
//   rss        ckptPeakRss of the three runs
// and, in the same run on the same target, CRIU's algorithm for the frozen step (`--pre-dump-mode splice`:
// freeze, vmsplice every present page, thaw): its stall. With CKPT_CRIU=/path/to/criu (4.x), also
// `criu dump --leave-running` of the same target: its stall.
// A last pass runs `--iterations 10` and prints ckptPeakRss and totalTime per iteration (goal: flat).
//
// usage: npm run bench -w ckpt -- final [--sizes 1,4] [--rate 1] [--reps 5] [--interval 1000]
//        [--dir DIR] [--no-splice] [--no-iterations] [--pre-copy 0,4 (variants: passes at most; default ckpt's)]
//        [--only-iterations (the last pass alone: ckptPeakRss and totalTime per iteration)]
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const dist = join(pkg, 'dist');
const cli = join(pkg, 'bin', 'ckpt.js');

function opt(args, name, def) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const ms = (us) => (us / 1000).toFixed(1);
const sleep = (t) => new Promise((r) => setTimeout(r, t));

function build(name) {
  const bin = join(os.tmpdir(), `ckpt-bench-${name}`);
  execFileSync('gcc', ['-O2', '-o', bin, join(here, `${name}.c`)]);
  return bin;
}

/** Run the CLI; its --json line (the last line of stdout) parsed. */
function ckpt(args, prof) {
  // CKPT_BENCH_PROF=DIR: CPU profiles of the incremental and the frozen step's runs in DIR (node --cpu-prof)
  const node = prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [];
  const r = spawnSync(process.execPath, [...node, cli, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`ckpt ${args.join(' ')}: ${r.stderr.trim() || `status ${r.status}`}`);
  const lines = r.stdout.trim().split('\n');
  return lines.map((l) => JSON.parse(l));
}

/** The writer fixture's command fifo (testing/writer.ts does the same for tests, asynchronously). */
class WriterCtl {
  constructor(f, fifo) {
    this.f = f;
    this.fd = openSync(fifo, 'w');
    this.seq = 0;
  }
  cmd(line) {
    const want = `OK ${++this.seq} `;
    writeSync(this.fd, `${line}\n`);
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const hit = readFileSync(this.f.logFile, 'utf8')
        .split('\n')
        .find((l) => l.startsWith(want));
      if (hit) return hit.slice(want.length);
      if (Date.now() > deadline) throw new Error(`writer: no answer to ${line}`);
      Atomics.wait(cell, 0, 0, 2);
    }
  }
  /** The longest heartbeat gap since the previous call, µs. */
  stall() {
    return Number(/maxstall_us=(\d+)/.exec(this.cmd('s'))[1]);
  }
  close() {
    closeSync(this.fd);
  }
}

/** Sequential write bandwidth of `dir` (256 MiB + fsync), bytes per µs. */
function writeBandwidth(dir) {
  const file = join(dir, 'bw.tmp');
  const buf = Buffer.alloc(4 << 20, 7);
  const fd = openSync(file, 'w');
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 64; i++) writeSync(fd, buf);
  execFileSync('sync', ['-f', file]);
  const us = Number(process.hrtime.bigint() - t0) / 1000;
  closeSync(fd);
  rmSync(file);
  return (64 * buf.length) / us;
}

export async function run(args) {
  const sizes = String(opt(args, 'sizes', '1,4'))
    .split(',')
    .map(Number);
  const ratePct = Number(opt(args, 'rate', '1'));
  const only = args.includes('--only-iterations');
  const reps = only ? 0 : Number(opt(args, 'reps', '5'));
  const interval = Number(opt(args, 'interval', '1000'));
  const preCopy = String(opt(args, 'pre-copy', 'default')).split(',');
  const root = mkdtempSync(join(opt(args, 'dir', os.tmpdir()), 'ckpt-bench-final-'));
  const criu = process.env.CKPT_CRIU;
  const { Fixture } = await import(join(dist, 'testing', 'index.js'));
  const floorBin = build('floor');
  console.log(
    `final step: sizes ${sizes.join(',')} GiB, ${ratePct}%/s written, ${reps} reps, ${interval} ms between ` +
      `pre-dumps; images in ${root}; load ${os.loadavg()[0].toFixed(2)}`,
  );
  const summary = [];
  try {
    for (const gib of sizes) {
      const mib = gib * 1024;
      const pages = (mib * 1048576) / 4096; // (mib << 20 overflows at 4 GiB)
      const rate = Math.max(1, Math.round((pages * ratePct) / 100));
      const fifo = join(root, `fifo-${gib}`);
      spawnSync('mkfifo', [fifo]);
      const t0 = performance.now();
      const f = await Fixture.start('writer', [String(mib), '1', fifo, String(rate), '1'], 900_000);
      const w = new WriterCtl(f, fifo);
      const base = Number(f.info.base);
      const len = Number(f.info.len);
      console.log(
        `\n${gib} GiB writer ready in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${rate} pages/s`,
      );
      const bw = writeBandwidth(root);
      const allRows = [];
      try {
        // --pre-copy 0,4: per rep one chain per variant (0: no pre-copy pass), the same run
        for (let r = 0; r < reps; r++)
          for (const pc of preCopy) {
            const d = join(root, `${gib}g-${r}-${pc}`);
            mkdirSync(d);
            const [first] = ckpt(['pre-dump', '-t', String(f.pid), '-D', join(d, '1'), '--json']);
            await sleep(interval);
            const [incr] = ckpt(
              ['pre-dump', '-t', String(f.pid), '-D', join(d, '2'), '--prev-images-dir', '../1', '--json'],
              process.env.CKPT_BENCH_PROF,
            );
            await sleep(interval);
            w.stall();
            const [last] = ckpt(
              [
                'pre-dump',
                '-t',
                String(f.pid),
                '-D',
                join(d, '3'),
                '--prev-images-dir',
                '../2',
                '--freeze',
                '--json',
                ...(pc === 'default' ? [] : ['--pre-copy', pc]),
              ],
              process.env.CKPT_BENCH_PROF,
            );
            const stall = w.stall();
            // pages the window copied (the rest the pre-copy passes held): what the floor is measured for
            const windowPages = last.pagesWritten - Math.round((last.hold?.precopiedBytes ?? 0) / 4096);
            const fl = JSON.parse(
              execFileSync(
                floorBin,
                [String(f.pid), String(base), String(len), String(windowPages), String(r + 1)],
                {
                  encoding: 'utf8',
                },
              ),
            );
            const flIncr = JSON.parse(
              execFileSync(
                floorBin,
                [String(f.pid), String(base), String(len), String(incr.pagesWritten), String(r + 7)],
                {
                  encoding: 'utf8',
                },
              ),
            );
            const row = {
              pc,
              passes: last.preCopy?.passes ?? [],
              windowPages,
              stall,
              frozen: last.frozenTime,
              written: last.pagesWritten,
              floor: (fl.scanNs + fl.copyNs) / 1000,
              floorScan: fl.scanNs / 1000,
              incrTotal: incr.totalTime,
              incrPages: incr.pagesWritten,
              incrFloor: (flIncr.scanNs + flIncr.copyNs) / 1000 + (incr.pagesWritten * 4096) / bw,
              rss: [first.ckptPeakRss, incr.ckptPeakRss, last.ckptPeakRss],
              // the frozen window's parts (ckpt's view) and what it left for after the thaw
              freezing: last.freezingTime,
              collect: last.collectTime ?? 0,
              copy: last.copyTime ?? 0,
              endTracking: last.endTrackingTime ?? 0,
              held: last.heldBytes ?? 0,
              spilled: last.spilledBytes ?? 0,
              total: last.totalTime,
            };
            allRows.push(row);
            console.log(
              `  rep ${r + 1} (pre-copy ${pc}): stall ${ms(row.stall)} ms, frozenTime ${ms(row.frozen)} ms, ${row.written} pages (${row.windowPages} copied frozen); ` +
                `floor ${ms(row.floor)} ms (scan ${ms(row.floorScan)}); incremental ${ms(row.incrTotal)} ms for ` +
                `${row.incrPages} pages (floor ${ms(row.incrFloor)}); rss ${row.rss.map((x) => (x / 1048576).toFixed(0)).join('/')} MiB`,
            );
            console.log(
              `         window: freezing ${ms(row.freezing)}, collect ${ms(row.collect)}, copy ${ms(row.copy)}, ` +
                `end tracking ${ms(row.endTracking)} ms; held ${(row.held / 1048576).toFixed(1)} MiB, ` +
                `written frozen ${(row.spilled / 1048576).toFixed(1)} MiB; whole run ${ms(row.total)} ms`,
            );
            if (row.passes.length > 0) {
              console.log(
                `         pre-copy passes (written/copied pages, collect+copy ms): ${row.passes
                  .map((x) => `${x.written}/${x.copied} ${ms(x.collectMicros)}+${ms(x.copyMicros)}`)
                  .join(', ')}; ${last.preCopy.stop}`,
              );
            }
            rmSync(d, { recursive: true, force: true });
          }
        let splice;
        if (!only && !args.includes('--no-splice')) {
          const d = join(root, `${gib}g-splice`);
          w.stall();
          const [s] = ckpt(['pre-dump', '-t', String(f.pid), '-D', d, '--pre-dump-mode', 'splice', '--json']);
          splice = { stall: w.stall(), frozen: s.frozenTime };
          rmSync(d, { recursive: true, force: true });
          console.log(
            `  splice (CRIU's algorithm, full): stall ${ms(splice.stall)} ms, frozenTime ${ms(splice.frozen)} ms`,
          );
        }
        let criuStall;
        if (criu && !only) {
          const d = join(root, `${gib}g-criu`);
          mkdirSync(d);
          w.stall();
          const r = spawnSync(
            criu,
            ['dump', '-t', String(f.pid), '-D', d, '--leave-running', '--shell-job'],
            {
              encoding: 'utf8',
            },
          );
          criuStall = w.stall();
          console.log(
            r.status === 0
              ? `  criu dump --leave-running: stall ${ms(criuStall)} ms`
              : `  criu dump failed (status ${r.status}); see ${d}/dump.log`,
          );
          if (r.status !== 0) criuStall = undefined;
          else rmSync(d, { recursive: true, force: true });
        }
        for (const pc of preCopy) {
          const rows = allRows.filter((x) => x.pc === pc);
          const m = (k) => median(rows.map((x) => x[k]));
          const s = {
            gib,
            preCopy: pc,
            windowPages: m('windowPages'),
            stallMs: m('stall') / 1000,
            frozenMs: m('frozen') / 1000,
            written: m('written'),
            floorMs: m('floor') / 1000,
            stallOverFloor: m('stall') / m('floor'),
            incrMs: m('incrTotal') / 1000,
            incrOverFloor: median(rows.map((x) => x.incrTotal / x.incrFloor)),
            rssFirstLastMiB: [median(rows.map((x) => x.rss[0])), median(rows.map((x) => x.rss[2]))].map(
              (x) => x / 1048576,
            ),
            spliceStallMs: splice ? splice.stall / 1000 : null,
            criuStallMs: criuStall !== undefined ? criuStall / 1000 : null,
          };
          summary.push(s);
        }
        if (only) summary.length = 0;
        const s = only ? { gib } : summary[summary.length - 1];
        if (!args.includes('--no-iterations')) {
          const d = join(root, `${gib}g-iter`);
          const all = ckpt([
            'pre-dump',
            '-t',
            String(f.pid),
            '-D',
            d,
            '--iterations',
            '10',
            '--interval',
            '500',
            '--json',
          ]);
          s.iterationRssMiB = all.map((x) => Math.round(x.ckptPeakRss / 1048576));
          s.iterationTotalMs = all.map((x) => Math.round(x.totalTime / 1000));
          // end the chain: the target keeps nothing of ours
          ckpt([
            'pre-dump',
            '-t',
            String(f.pid),
            '-D',
            join(d, 'end'),
            '--prev-images-dir',
            '../10',
            '--freeze',
            '--json',
          ]);
          rmSync(d, { recursive: true, force: true });
          console.log(`  --iterations 10: ckptPeakRss per iteration ${s.iterationRssMiB.join(' ')} MiB`);
          console.log(`  --iterations 10: totalTime per iteration ${s.iterationTotalMs.join(' ')} ms`);
          if (only) summary.push(s);
        }
      } finally {
        w.close();
        f.kill();
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  console.log('\nsummary (medians):');
  for (const s of summary) {
    if (s.stallMs === undefined) continue; // --only-iterations: printed above
    console.log(
      `  ${s.gib} GiB, pre-copy ${s.preCopy}: frozen step stall ${s.stallMs.toFixed(1)} ms (goal <= 50), frozenTime ${s.frozenMs.toFixed(1)} ms, ` +
        `${s.written} pages; floor ${s.floorMs.toFixed(1)} ms -> stall/floor ${s.stallOverFloor.toFixed(1)}x (goal <= 3); ` +
        `incremental step ${s.incrMs.toFixed(0)} ms = ${s.incrOverFloor.toFixed(1)}x its floor (goal <= 2)` +
        (s.spliceStallMs !== null
          ? `; splice stall ${s.spliceStallMs.toFixed(0)} ms (${(s.spliceStallMs / s.stallMs).toFixed(1)}x ours)`
          : '') +
        (s.criuStallMs !== null
          ? `; criu dump stall ${s.criuStallMs.toFixed(0)} ms (${(s.criuStallMs / s.stallMs).toFixed(1)}x ours)`
          : ''),
    );
  }
  console.log(JSON.stringify({ bench: 'final', results: summary }));
}

if (import.meta.url === `file://${process.argv[1]}`) await run(process.argv.slice(2));
