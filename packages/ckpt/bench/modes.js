// Pre-dump modes benchmark: CRIU's old algorithm (splice: freeze, vmsplice every page into pipes, thaw,
// write the pipes out) against ours (read: process_vm_readv into one buffer while the target runs), in the
// same run, back to back on the same pre-warmed target (test/fixtures/churn.c), for each size:
//   static: the target only ticks its heartbeat;
//   churn:  the target also frees (MADV_DONTNEED) and rewrites its memory at --churn MiB/s (pipes then
//           keep the freed pages alive until they are written out).
// Per dump (each in a fresh `node` process running the library, so its peak RSS is its own):
//   stoppedMs   longest stall of the target's heartbeat thread (ticks every 1 ms), i.e. measured by the
//               target, not by ckpt
//   totalMs     ckpt's own totalTime (scan, splice/read, write)
//   pipes       pipes held at the peak (splice: all of them at once)
//   fds         most descriptors the ckpt process held (sampled every 100 ms from /proc/PID/fd; for
//               splice at least its fds before the dump plus the pipes and pidfd it held at once)
//   peakPipeBytes, peakRssBytes (VmHWM of the ckpt process)
//   memAvailableDropBytes  how far MemAvailable fell below its value at the start while the dump ran
//               (sampled every 5 ms from /proc/meminfo), not counting growth of Shmem meanwhile (tmpfs
//               files of other programs on a shared machine); the raw drop is in the .raw.json
//   pinned      (splice, churn) the most pages the target had freed and replaced while their old copy still sat
//               in a pipe not yet written out: memory the pipes keep alive (PFNs from /proc/PID/pagemap,
//               sampled 8 times during the write-out, time taken out of totalMs; free of other programs' noise, unlike MemAvailable)
//   (raw only)  churnedBytes: what the target freed and rewrote during the dump
// Images go to a directory on the root filesystem (--sink shm: in /dev/shm, out of reach of other
// programs' disk traffic; --sink null: discarded), removed after each dump. Heartbeat stalls include the
// scheduling delays of a loaded machine: the load average is printed and goes into the title. Prints a table and the splice ÷ read ratios; writes a RUN.json (report/schema.ts) for
// `ckpt report`.
// usage: npm run bench -w ckpt -- modes [--sizes 1,4] [--churn 256] [--reps 1] [--sink disk|shm|null] [--out FILE]
import { spawn } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const MiB = 1 << 20;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** MemAvailable and Shmem (tmpfs, e.g. /dev/shm files of other programs), bytes. */
function meminfo() {
  const t = readFileSync('/proc/meminfo', 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)[1]) * 1024;
  return { avail: kb('MemAvailable'), shmem: kb('Shmem') };
}

function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** The churn fixture's shared stats words (see test/fixtures/churn.c). */
class TargetStats {
  constructor(path) {
    this.path = path;
    this.fd = openSync(path, 'r+');
  }
  word(i) {
    return Number(readFileSync(this.path).readBigUInt64LE(i * 8));
  }
  set(i, v) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    writeSync(this.fd, b, 0, 8, i * 8);
  }
}

// ---- the child: one dump, in its own process -------------------------------------------------------
/**
 * Pinned copies, measured: the PFN of every page of the target's data span [base, base + len) right after
 * the thaw, then, every 1/8 of the pipes written out, how many pages not yet written out now have another
 * PFN in the target (it freed the page and faulted a new one; the old one lives on in a pipe). Needs the
 * PFNs of /proc/PID/pagemap (CAP_SYS_ADMIN). Pages are written out in address order, so the pipes written
 * so far cover about (pipes done x pipe pages) pages from the low end (the few pages below the span
 * shift this by a little).
 */
class PinnedCopies {
  constructor(pid, base, len) {
    this.fd = openSync(`/proc/${pid}/pagemap`, 'r');
    this.base = base;
    this.pages = len / 4096;
    this.first = undefined;
    this.now = new Uint32Array(this.pages * 2);
    this.peakBytes = 0;
    this.samples = 0;
    /** Time spent sampling, ms (taken out of the reported total). */
    this.ms = 0;
  }
  read(into, fromPage) {
    const n = this.pages - fromPage;
    if (n <= 0) return;
    const bytes = new Uint8Array(into.buffer, fromPage * 8, n * 8);
    readSync(this.fd, bytes, 0, n * 8, (this.base / 4096 + fromPage) * 8);
  }
  /** After `pipesDone` pipes of `pipePages` pages went out. */
  sample(pipesDone, pipePages) {
    const t0 = performance.now();
    if (!this.first) {
      this.first = new Uint32Array(this.pages * 2);
      this.read(this.first, 0);
    } else {
      const from = Math.min(this.pages, pipesDone * pipePages);
      this.read(this.now, from);
      const a = this.first;
      const b = this.now;
      let moved = 0;
      for (let i = from; i < this.pages; i++) {
        const hi = a[2 * i + 1];
        // present at the start (bit 63) and now another PFN (bits 0-54)
        if (hi & 0x80000000 && (a[2 * i] !== b[2 * i] || (hi & 0x7fffff) !== (b[2 * i + 1] & 0x7fffff)))
          moved++;
      }
      this.samples++;
      this.peakBytes = Math.max(this.peakBytes, moved * 4096);
    }
    this.ms += performance.now() - t0;
  }
}

async function child([mode, pidText, dir, baseText, lenText, scenario]) {
  const pid = Number(pidText);
  // a static target frees nothing, so nothing can be pinned: measured in the churn scenario only
  const pinned =
    mode === 'splice' && scenario === 'churn'
      ? new PinnedCopies(pid, Number(baseText), Number(lenText))
      : undefined;
  const every = Math.max(1, Math.floor(Number(lenText) / (1 << 20) / 8));
  const { preDump } = await import(join(pkg, 'dist/dump/pre-dump.js'));
  const { preDumpSplice } = await import(join(pkg, 'dist/dump/splice-pre-dump.js'));
  const { NullSink } = await import(join(pkg, 'dist/xfer/index.js'));
  const where = dir === '-' ? { sink: new NullSink() } : { imagesDir: dir };
  const baseFds = readdirSync('/proc/self/fd').length;
  const r =
    mode === 'splice'
      ? await preDumpSplice({
          pid,
          ...where,
          afterBuffer: (i) => {
            if (pinned && (i === 0 || (i + 1) % every === 0)) pinned.sample(i + 1, 256);
          },
        })
      : await preDump({ pid, ...where, tree: false });
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  process.stdout.write(
    `${JSON.stringify({
      totalUs: r.totalTime - Math.round((pinned?.ms ?? 0) * 1000),
      samplingUs: Math.round((pinned?.ms ?? 0) * 1000),
      frozenUs: r.frozenTime,
      memdumpUs: r.memdumpTime,
      memwriteUs: r.memwriteTime,
      pagesWritten: r.pagesWritten,
      pipes: r.splice?.pipes ?? 0,
      pipeSize: r.splice?.pipeSize ?? 0,
      injectedSyscalls: r.splice?.injectedSyscalls ?? 0,
      injectMicros: r.splice?.injectMicros ?? 0,
      vmspliceMicros: r.splice?.vmspliceMicros ?? 0,
      peakPipeBytes: r.splice?.peakPipeBytes ?? 0,
      // splice: ckpt's own count of what it held at once (pipes + pidfd) on top of what the process had
      peakFds: r.splice ? baseFds + r.splice.peakFds : 0,
      pinnedCopyBytes: pinned?.peakBytes ?? 0,
      pinnedSamples: pinned?.samples ?? 0,
      peakRssBytes: Number(hwm[1]) * 1024,
    })}\n`,
  );
}

// ---- the parent ------------------------------------------------------------------------------------
function runChild(mode, scenario, f, dir) {
  let c;
  const done = new Promise((resolvePromise, reject) => {
    c = spawn(
      process.execPath,
      [
        fileURLToPath(import.meta.url),
        '--child',
        mode,
        String(f.pid),
        dir,
        f.info.base,
        f.info.len,
        scenario,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => {
      out += d;
    });
    c.stderr.on('data', (d) => {
      err += d;
    });
    c.on('error', reject);
    c.on('close', (code) => {
      if (code !== 0) reject(new Error(`${mode} dump of ${f.pid} failed (exit ${code}): ${err.trim()}`));
      else resolvePromise(JSON.parse(out));
    });
  });
  return { done, child: c };
}

async function measure({ mode, scenario, f, stats, sizeBytes, churn, sinkRoot }) {
  if (scenario === 'churn') {
    stats.set(3, churn);
    await sleep(300); // steady state
  }
  stats.set(0, 0);
  await sleep(20);
  stats.set(0, 0);
  const dir = sinkRoot ? join(sinkRoot, `${mode}-${scenario}-${sizeBytes}`) : '-';
  const base = meminfo();
  const churnedBefore = stats.word(2);
  let drop = 0;
  let rawDrop = 0;
  let fds = 0;
  let tick = 0;
  const { done, child: c } = runChild(mode, scenario, f, dir);
  const timer = setInterval(() => {
    const m = meminfo();
    rawDrop = Math.max(rawDrop, base.avail - m.avail);
    drop = Math.max(drop, base.avail - m.avail - Math.max(0, m.shmem - base.shmem));
    if (tick++ % 20 === 0) fds = Math.max(fds, fdCount(c.pid));
  }, 5);
  let r;
  try {
    r = await done;
  } finally {
    clearInterval(timer);
  }
  await sleep(10); // a heartbeat tick after the thaw, to close the gap
  const stallNs = stats.word(0);
  const churnedBytes = stats.word(2) - churnedBefore;
  if (scenario === 'churn') stats.set(3, 0);
  if (sinkRoot) rmSync(dir, { recursive: true, force: true });
  return {
    mode,
    scenario,
    sizeBytes,
    stoppedMs: stallNs / 1e6,
    totalMs: r.totalUs / 1000,
    pipes: r.pipes,
    fds: Math.max(fds, r.peakFds),
    peakPipeBytes: r.peakPipeBytes,
    peakRssBytes: r.peakRssBytes,
    memAvailableDropBytes: Math.max(0, drop),
    extra: {
      ...r,
      churnMiBps: scenario === 'churn' ? churn : 0,
      churnedBytes,
      rawMemAvailableDropBytes: rawDrop,
    },
  };
}

function parseArgs(args) {
  const o = { sizes: [1, 4], churn: 256, reps: 1, sink: 'disk', out: undefined };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    if (a === '--sizes') o.sizes = v.split(',').map(Number);
    else if (a === '--churn') o.churn = Number(v);
    else if (a === '--reps') o.reps = Number(v);
    else if (a === '--sink') o.sink = v;
    else if (a === '--out') o.out = v;
    else throw new Error(`modes: unknown argument ${a}`);
    i++;
  }
  if (
    o.sizes.some((s) => !(s > 0)) ||
    !(o.churn > 0) ||
    !(o.reps >= 1) ||
    !['disk', 'shm', 'null'].includes(o.sink)
  ) {
    throw new Error(
      'modes: --sizes GiB,.. (> 0), --churn MiB/s (> 0), --reps N (>= 1), --sink disk|shm|null',
    );
  }
  return o;
}

const fmt = (n, d = 0) => n.toFixed(d).padStart(9);

function printTable(rows) {
  console.log(
    `${'mode'.padEnd(7)}${'scenario'.padEnd(9)}${'size'.padStart(6)}${'stopped ms'.padStart(11)}${'total ms'.padStart(10)}` +
      `${'pipes'.padStart(7)}${'fds'.padStart(7)}${'pipe MiB'.padStart(10)}${'RSS MiB'.padStart(9)}${'MemAvail drop MiB'.padStart(19)}${'pinned MiB'.padStart(12)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.mode.padEnd(7)}${r.scenario.padEnd(9)}${`${r.sizeBytes / 2 ** 30}G`.padStart(6)}${fmt(r.stoppedMs, 1).padStart(11)}` +
        `${fmt(r.totalMs).padStart(10)}${String(r.pipes).padStart(7)}${String(r.fds).padStart(7)}` +
        `${fmt(r.peakPipeBytes / MiB).padStart(10)}${fmt(r.peakRssBytes / MiB).padStart(9)}${fmt(r.memAvailableDropBytes / MiB).padStart(19)}${fmt(r.extra.pinnedCopyBytes / MiB).padStart(12)}`,
    );
  }
}

const SINK_TEXT = { disk: 'on disk', shm: 'in /dev/shm', null: 'discarded' };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function printRatios(rows) {
  const groups = new Map();
  for (const r of rows) {
    const k = `${r.scenario} ${r.sizeBytes / 2 ** 30} GiB`;
    if (!groups.has(k)) groups.set(k, { read: [], splice: [] });
    groups.get(k)[r.mode].push(r);
  }
  console.log('\nsplice ÷ read (medians):');
  for (const [k, g] of groups) {
    if (g.read.length === 0 || g.splice.length === 0) continue;
    const m = (mode, key) => median(g[mode].map((r) => r[key]));
    const ratio = (key) => {
      const a = m('splice', key);
      const b = m('read', key);
      return b > 0 ? `${(a / b).toFixed(1)}x` : `${(a / MiB).toFixed(0)} MiB vs 0`;
    };
    console.log(
      `  ${k.padEnd(14)} stopped ${ratio('stoppedMs')}, total ${ratio('totalMs')}, ` +
        `MemAvailable drop ${(m('splice', 'memAvailableDropBytes') / MiB).toFixed(0)} vs ${(m('read', 'memAvailableDropBytes') / MiB).toFixed(0)} MiB, ` +
        `fds ${m('splice', 'fds')} vs ${m('read', 'fds')}, ` +
        `pinned copies ${(median(g.splice.map((r) => r.extra.pinnedCopyBytes)) / MiB).toFixed(0)} MiB`,
    );
  }
}

export async function run(args) {
  const o = parseArgs(args);
  const { Fixture } = await import(join(pkg, 'dist/testing/index.js'));
  const sinkRoot =
    o.sink === 'disk'
      ? mkdtempSync(join(pkg, '..', '..', '.bench-modes-'))
      : o.sink === 'shm'
        ? mkdtempSync('/dev/shm/ckpt-bench-modes-')
        : undefined;
  const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const loadBefore = load();
  const rows = [];
  console.log(
    `pre-dump modes: sizes ${o.sizes.join(', ')} GiB, churn ${o.churn} MiB/s, reps ${o.reps}, sink ${o.sink}` +
      `, pipe-max-size ${readFileSync('/proc/sys/fs/pipe-max-size', 'utf8').trim()}, load ${loadBefore}`,
  );
  try {
    for (const gib of o.sizes) {
      const sizeBytes = Math.round(gib * 1024) * MiB;
      const statsPath = `/dev/shm/ckpt-bench-modes-${process.pid}`;
      const f = await Fixture.start('churn', [String(sizeBytes / MiB), statsPath], 600_000);
      const stats = new TargetStats(statsPath);
      try {
        console.log(`== ${gib} GiB target ${f.pid} (warm)`);
        for (const scenario of ['static', 'churn']) {
          for (let rep = 0; rep < o.reps; rep++) {
            const order = rep % 2 === 0 ? ['read', 'splice'] : ['splice', 'read'];
            for (const mode of order) {
              const r = await measure({ mode, scenario, f, stats, sizeBytes, churn: o.churn, sinkRoot });
              rows.push(r);
              console.log(
                `   ${mode} ${scenario}: stopped ${r.stoppedMs.toFixed(1)} ms, total ${r.totalMs.toFixed(0)} ms, ` +
                  `MemAvailable -${(r.memAvailableDropBytes / MiB).toFixed(0)} MiB`,
              );
            }
          }
        }
      } finally {
        f.kill();
        rmSync(statsPath, { force: true });
      }
    }
  } finally {
    if (sinkRoot) rmSync(sinkRoot, { recursive: true, force: true });
  }
  console.log('');
  printTable(rows);
  printRatios(rows);
  const reads = rows.filter((r) => r.mode === 'read' && r.scenario === 'static');
  const best = reads.reduce(
    (a, r) => (a && a.sizeBytes / a.totalMs >= r.sizeBytes / r.totalMs ? a : r),
    undefined,
  );
  const runFile = {
    kind: 'ckpt-run',
    version: 1,
    createdAt: new Date().toISOString(),
    title:
      `Pre-dump modes: splice (CRIU's old default) vs read (ckpt); images ${SINK_TEXT[o.sink]}; churn ${o.churn} MiB/s; ` +
      `load average ${loadBefore} before, ${load()} after`,
    host: { kernel: os.release(), cpus: os.cpus().length, memBytes: os.totalmem() },
    modes: rows.map(({ extra: _extra, ...r }) => r),
    summary: {
      throughputBytesPerSec: best ? Math.round(best.sizeBytes / (best.totalMs / 1000)) : 0,
      chainCheck: 'skipped',
      mismatchedPages: 0,
    },
  };
  const outDir = resolve(pkg, '../../bench-results');
  mkdirSync(outDir, { recursive: true });
  const out = o.out
    ? resolve(o.out)
    : join(outDir, `modes-${runFile.createdAt.replace(/[:.]/g, '-')}.RUN.json`);
  writeFileSync(out, `${JSON.stringify(runFile, null, 2)}\n`);
  writeFileSync(`${out}.raw.json`, `${JSON.stringify(rows, null, 2)}\n`);
  console.log(`\nwrote ${out} (render: node bin/ckpt.js report ${out})`);
}

if (process.argv[2] === '--child') {
  child(process.argv.slice(3)).catch((e) => {
    console.error(e?.message ?? String(e));
    process.exit(1);
  });
}
