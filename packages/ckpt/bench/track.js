#!/usr/bin/env node
// Benchmark of mem/track/ (uffd-wp) on a writer fixture that dirties a fixed share of its pages per second.
// usage: node packages/ckpt/bench/track.js [--size MIB=4096] [--rate PCT_PER_SEC=1] [--seconds N=5]
//        [--threads T=1] [--setups N=5]
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
const setups = arg('setups', 5);
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
  // Phase A: no tracking (anchors): write cost over `seconds`, stall in 200 ms windows (scheduler jitter)
  await sleep(1000);
  stats();
  await sleep(seconds * 1000);
  const base = stats();
  const idleStalls = [];
  for (let i = 0; i < setups; i++) {
    stats();
    await sleep(200);
    idleStalls.push(stats().maxStallUs);
  }

  // Phase B: setups (the only stop), each followed by a 200 ms window; the last tracker stays
  const setupStalls = [];
  const stopped = [];
  const injected = [];
  const freezing = [];
  let tracker;
  for (let i = 0; i < setups; i++) {
    tracker?.close();
    await sleep(100);
    stats();
    tracker = new UffdWpTracker(f.pid);
    tracker.start(trackableRanges(readMaps(f.pid)));
    await sleep(200);
    setupStalls.push(stats().maxStallUs);
    stopped.push(tracker.setup.stoppedMicros);
    injected.push(tracker.setup.injectMicros);
    freezing.push(tracker.setup.freezeMicros);
  }
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
  const list = (a) => a.map((x) => ms(x)).join(' ');
  console.log(`setup x${setups} (tool's view, first SEIZE to last DETACH): stopped ${list(stopped)} ms`);
  console.log(`  of which freezing ${list(freezing)} ms, injected syscalls ${list(injected)} ms`);
  console.log(`  median stop ${ms(median(stopped))} ms (goal <= 5)`);
  console.log(
    `  then, target running: register ${ms(s.registerMicros)} ms (${s.registered} ranges), arm ${ms(s.armMicros)} ms`,
  );
  console.log(`target's longest stall per 200 ms window (1 ms heartbeat thread):`);
  console.log(`  idle, no tracking (anchor): ${list(idleStalls)} ms, median ${ms(median(idleStalls))}`);
  const ratio = (median(setupStalls) / Math.max(1, median(idleStalls))).toFixed(2);
  console.log(
    `  window with a setup:        ${list(setupStalls)} ms, median ${ms(median(setupStalls))} (${ratio}x anchor)`,
  );
  const r2 = (tracked.maxStallUs / Math.max(1, base.maxStallUs)).toFixed(2);
  console.log(`target's longest stall over ${seconds} s: untracked ${ms(base.maxStallUs)} ms (anchor);`);
  console.log(`  with a collect every second ${ms(tracked.maxStallUs)} ms (${r2}x anchor; goal: no stop)`);
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
