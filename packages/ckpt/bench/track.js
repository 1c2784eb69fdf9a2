#!/usr/bin/env node
// Benchmark of mem/track/ (uffd-wp) on a writer fixture that dirties a fixed share of its pages per second.
// usage: node packages/ckpt/bench/track.js [--size MIB=4096] [--rate PCT_PER_SEC=1] [--seconds N=5]
//        [--threads T=1]
// Reports, as seen by the target itself (a 1 ms heartbeat thread records its longest stall):
//   - the stall during tracker setup (the only stop: the injected userfaultfd()/close()),
//   - the stall while collects run (goal: none beyond the scheduler's usual jitter),
// and, from the tool: setup timings, scan time and pages per collect, and the target's cost per page
// write with and without tracking. Anchors in the same run: the idle heartbeat jitter without tracking,
// the untracked write cost, and the 'none' tracker (every present page) for the same collects.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'dist');
const { Fixture } = await import(join(dist, 'testing', 'index.js'));
const { readMaps } = await import(join(dist, 'proc', 'index.js'));
const { NoneTracker, UffdWpTracker, trackableRanges, uffdWpUnsupportedReason } = await import(
  join(dist, 'mem', 'track', 'index.js')
);

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`track.js: --${name} needs a positive number`);
    process.exit(2);
  }
  return v;
}
const sizeMiB = arg('size', 4096);
const ratePct = arg('rate', 1);
const seconds = arg('seconds', 5);
const threads = arg('threads', 1);
const why = uffdWpUnsupportedReason();
if (why) {
  console.error(`track.js: uffd-wp is not available here: ${why}`);
  process.exit(1);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pages = (sizeMiB * 1048576) / 4096;
const rate = Math.max(1, Math.round((pages * ratePct) / 100));
const dir = mkdtempSync(join(tmpdir(), 'ckpt-bench-track-'));
const fifo = join(dir, 'cmd');
spawnSync('mkfifo', [fifo]);
console.log(
  `writer: ${sizeMiB} MiB (${pages} pages), ${rate} page writes/s (${ratePct}%/s), ${threads} thread(s)`,
);
const t0 = performance.now();
const f = await Fixture.start('writer', [String(sizeMiB), String(threads), fifo, String(rate), '1'], 600_000);
console.log(`writer ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (pid ${f.pid})`);
const cmdFd = openSync(fifo, 'w');
let seq = 0;
function cmd(line) {
  const s = ++seq;
  writeSync(cmdFd, `${line}\n`);
  const re = new RegExp(`^OK ${s} (.*)$`, 'm');
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const m = re.exec(readFileSync(f.logFile, 'utf8'));
    if (m) return m[1];
    Atomics.wait(cell, 0, 0, 1);
  }
}
function stats() {
  const o = {};
  for (const kv of cmd('s').split(' ')) {
    const [k, v] = kv.split('=');
    o[k] = Number(v);
  }
  return {
    writes: o.writes,
    maxStallUs: o.maxstall_us,
    nsPerWrite: o.writes ? o.write_ns / o.writes : 0,
  };
}
const ms = (us) => (us / 1000).toFixed(2);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const max = (a) => Math.max(...a);

try {
  // Phase A: no tracking (anchor)
  await sleep(1000);
  stats();
  await sleep(seconds * 1000);
  const base = stats();

  // Phase B: setup (the only stop)
  await sleep(200);
  stats();
  const tracker = new UffdWpTracker(f.pid);
  tracker.start(trackableRanges(readMaps(f.pid)));
  await sleep(200);
  const setupView = stats();
  const s = tracker.setup;

  // Phase C: collect once a second, target running
  const scans = [];
  const counts = [];
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    const r = tracker.collect(() => {});
    scans.push(r.scanMicros);
    counts.push(r.pages);
  }
  const tracked = stats();

  // Anchor for collects: the 'none' tracker reports every present page of the same ranges
  const none = new NoneTracker(f.pid);
  none.start(tracker.ranges());
  const noneScans = [];
  let nonePages = 0;
  for (let i = 0; i < 3; i++) {
    const r = none.collect(() => {});
    noneScans.push(r.scanMicros);
    nonePages = r.pages;
  }
  none.close();
  tracker.close();

  const w = (x) => `${x.nsPerWrite.toFixed(0)} ns/page write, ${(x.writes / seconds).toFixed(0)} writes/s`;
  console.log('');
  console.log(
    `setup (tool's view): target stopped ${ms(s.stoppedMicros)} ms (injected syscalls ${ms(s.injectMicros)} ms);`,
  );
  console.log(
    `  then, target running: register ${ms(s.registerMicros)} ms (${s.registered} ranges), arm ${ms(s.armMicros)} ms`,
  );
  console.log(`target's longest stall (1 ms heartbeat):`);
  console.log(
    `  without tracking, ${seconds} s:          ${ms(base.maxStallUs)} ms   (anchor: scheduler jitter)`,
  );
  console.log(
    `  around setup (200 ms window):   ${ms(setupView.maxStallUs)} ms   (${(setupView.maxStallUs / Math.max(1, base.maxStallUs)).toFixed(2)}x anchor; goal <= 5 ms)`,
  );
  console.log(
    `  during ${seconds} collects:              ${ms(tracked.maxStallUs)} ms   (${(tracked.maxStallUs / Math.max(1, base.maxStallUs)).toFixed(2)}x anchor; goal: no stop)`,
  );
  console.log(
    `collect (uffd-wp): scan median ${ms(median(scans))} ms, max ${ms(max(scans))} ms; pages median ${median(counts)}, max ${max(counts)}`,
  );
  console.log(
    `collect ('none', every present page): scan median ${ms(median(noneScans))} ms, ${nonePages} pages`,
  );
  console.log(
    `  uffd-wp reports ${((median(counts) / nonePages) * 100).toFixed(2)}% of the pages 'none' reports (${(nonePages / Math.max(1, median(counts))).toFixed(0)}x less to copy)`,
  );
  console.log(
    `target write cost: untracked ${w(base)}; tracked ${w(tracked)}: ratio ${(tracked.nsPerWrite / base.nsPerWrite).toFixed(2)}x`,
  );
} finally {
  closeSync(cmdFd);
  f.kill();
  rmSync(dir, { recursive: true, force: true });
}
