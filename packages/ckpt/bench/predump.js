// Pre-dump benchmark: ckpt against its anchors, back to back on the same pre-warmed static target.
//  (a) read path: `ckpt pre-dump --dry-run` (scan + process_vm_readv into one 4 MiB buffer, pages
//      discarded; ckpt's own totalTime) vs pvr_loop.c (process_vm_readv of the known region, 4 MiB buffer)
//  (b) to disk: `ckpt pre-dump -D DIR` (DIR on the root filesystem; ckpt's totalTime: scan, read, write
//      the images) vs seq_write.c writing the same number of bytes in 4 MiB writes to the same filesystem;
//      each side's time includes a `sync` right after it (so both pay for reaching the disk), an untimed
//      `sync` runs before each, and the order alternates (pairs ckpt-anchor, anchor-ckpt, ...). One untimed
//      pair runs first on each file system: the first write after a while gets cold memory for its page
//      cache (this VM hands idle memory back to its host: ~1.5 s/GiB to touch it again), which used to land
//      on whichever side ran first, ckpt in two of three reps.
//  (b') the same two writers into a tmpfs (/dev/shm): the write path without the disk's noise.
//  (c) ckpt's peak RSS (VmHWM of the ckpt process, reported by --json) at 1 GiB and 4 GiB.
// Runs alternate anchor/ckpt; medians of REPS (default 3). Ratios are anchor time / ckpt time (>= 0.9 is the
// goal). JSON goes to bench-results/predump-<date>.json.
//  (d) with a third argument `variants`: the write path's variants, in-process pipelines (scan + PageReader +
//      LocalSink + commit, run by this file as a child: `node bench/predump.js --pipeline ...`), each against
//      seq_write on the disk in the same rotation: buffered writes on the main thread (read, then write),
//      buffered writes on the thread pool with 2 buffers in rotation, O_DIRECT on the main thread, O_DIRECT
//      on the thread pool with 2 and 3 buffers. Then a sparse target (writer fixture, every other page
//      present) into tmpfs: ckpt -D against ckpt --dry-run.
// usage: npm run bench -w ckpt -- predump [sizesGiB=1,4] [reps=3] [variants]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const CKPT = join(pkg, 'bin/ckpt.js');
const BUF = 4 << 20;

function build(name) {
  const dir = join(tmpdir(), 'ckpt-bench-bin');
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, name);
  execFileSync('gcc', ['-O2', '-o', bin, join(here, `${name}.c`)]);
  return bin;
}

const secs = (xs, unit) => xs.map((x) => (x / unit).toFixed(2)).join(' ');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sync = () => spawnSync('sync');

function runJson(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Child mode: one pre-dump pipeline of PID into DIR, timed in-process. Prints {"us", "bytes"}. */
async function pipeline(pid, dirPath, buffers, direct, asyncWrites) {
  const { readMaps } = await import(join(pkg, 'dist/proc/index.js'));
  const { findPages, planVmas, PageReader } = await import(join(pkg, 'dist/mem/index.js'));
  const { ImageDir, preDumpInventory, PRE_DUMP_MODE } = await import(join(pkg, 'dist/images/index.js'));
  const { LocalSink } = await import(join(pkg, 'dist/xfer/index.js'));
  const t0 = process.hrtime.bigint();
  const found = findPages(pid, planVmas(readMaps(pid)));
  const dir = ImageDir.create(dirPath);
  const sink = new LocalSink(dir, { directIo: direct, asyncWrites });
  const reader = new PageReader(pid, { bufferSize: BUF, buffers });
  await sink.begin(pid);
  await reader.read(found.ranges, {
    pages: (va, n, b) => sink.addPages(va, n, b),
    flush: () => sink.flush(),
  });
  await sink.end();
  dir.setInventory(preDumpInventory(PRE_DUMP_MODE.READ, 0));
  dir.commit();
  const us = Number(process.hrtime.bigint() - t0) / 1e3;
  reader.close();
  console.log(JSON.stringify({ us, bytes: sink.bytesWritten }));
}

if (process.argv[2] === '--pipeline') {
  const [pid, dir, buffers, direct, asyncWrites] = process.argv.slice(3);
  await pipeline(Number(pid), dir, Number(buffers), direct === '1', asyncWrites === '1');
}

const timedSync = () => {
  const t = process.hrtime.bigint();
  sync();
  return Number(process.hrtime.bigint() - t);
};

/** (d): seq_write and the pipeline variants on `root`, rotating the order each rep, after a warm-up round. */
function variants(root, f, bytes, reps, seqWrite) {
  const sides = [
    {
      name: 'seq_write (anchor)',
      run: (file) => runJson(seqWrite, [file, String(bytes), String(BUF)]).ns / 1e3,
    },
    { name: 'buffered, sync', args: ['1', '0', '0'] },
    { name: 'buffered, async x2', args: ['2', '0', '1'] },
    { name: 'O_DIRECT, sync', args: ['1', '1', '0'] },
    { name: 'O_DIRECT, async x2', args: ['2', '1', '1'] },
    { name: 'O_DIRECT, async x3', args: ['3', '1', '1'] },
  ];
  const us = sides.map(() => []);
  const one = (k) => {
    const side = sides[k];
    const path = join(root, `v${k}`);
    sync();
    const t = side.run
      ? side.run(path)
      : runJson(process.execPath, [join(here, 'predump.js'), '--pipeline', String(f.pid), path, ...side.args])
          .us;
    const total = t + timedSync() / 1e3;
    rmSync(path, { recursive: true, force: true });
    return total;
  };
  for (let k = 0; k < sides.length; k++) one(k); // warm-up round, untimed
  for (let i = 0; i < reps; i++) {
    for (let j = 0; j < sides.length; j++) {
      const k = (i + j) % sides.length;
      us[k].push(one(k));
    }
  }
  const anchor = median(us[0]);
  for (let k = 0; k < sides.length; k++) {
    const m = median(us[k]);
    console.log(
      `(d) ${sides[k].name.padEnd(20)}: ${(bytes / m / 1e3).toFixed(2)} GB/s, ratio ${(anchor / m).toFixed(2)}  (runs ${secs(us[k], 1e6)} s)`,
    );
  }
  return sides.map((s, k) => ({ name: s.name, us: us[k], ratio: anchor / median(us[k]) }));
}

/** (d) sparse: every other page of GIB present (writer fixture), ckpt -D into tmpfs against --dry-run. */
async function sparse(gib, reps, Fixture) {
  const fifo = join(tmpdir(), `ckpt-bench-fifo-${process.pid}`);
  rmSync(fifo, { force: true });
  spawnSync('mkfifo', [fifo]);
  const f = await Fixture.start('writer', [String(gib * 1024), '1', fifo, '0', '0'], 300_000);
  const shm = mkdtempSync('/dev/shm/ckpt-bench-sparse-');
  try {
    const ck = (extra) =>
      runJson(process.execPath, [CKPT, 'pre-dump', '-t', String(f.pid), '--json', '--no-progress', ...extra]);
    ck(['--dry-run']);
    const dry = [];
    const disk = [];
    for (let i = 0; i < reps + 1; i++) {
      const d = join(shm, `s${i}`);
      const j = ck(['-D', d, '--track-mem', 'none']);
      rmSync(d, { recursive: true, force: true });
      const k = ck(['--dry-run']);
      if (i === 0) continue; // warm-up
      disk.push(j.totalTime);
      dry.push(k.totalTime);
    }
    console.log(
      `(d) sparse ${gib} GiB, every other page: ckpt -D tmpfs ${(median(disk) / 1e6).toFixed(2)} s, --dry-run ${(median(dry) / 1e6).toFixed(2)} s  (runs ${secs(disk, 1e6)} / ${secs(dry, 1e6)} s)`,
    );
    return { gib, diskUs: disk, dryUs: dry };
  } finally {
    f.kill();
    rmSync(shm, { recursive: true, force: true });
    rmSync(fifo, { force: true });
  }
}

export async function run(args) {
  const sizes = (args[0] ?? '1,4').split(',').map(Number);
  const reps = Number(args[1] ?? 3);
  const withVariants = args[2] === 'variants';
  const { Fixture } = await import(join(pkg, 'dist/testing/index.js'));
  const pvrLoop = build('pvr_loop');
  const seqWrite = build('seq_write');
  const diskRoot = mkdtempSync(join(pkg, '..', '..', '.bench-predump-'));
  const results = { date: new Date().toISOString(), buffer: BUF, reps, sizes: [] };
  try {
    for (const gib of sizes) {
      console.log(`\n== ${gib} GiB static target`);
      const f = await Fixture.start('static', [String(gib * 1024)], 300_000);
      try {
        const base = f.info.base;
        const len = String(f.num('len'));
        const ck = (extra) =>
          runJson(process.execPath, [
            CKPT,
            'pre-dump',
            '-t',
            String(f.pid),
            '--json',
            '--no-progress',
            ...extra,
          ]);
        // warm-up (untimed): fault in our buffers, the page cache, the JIT
        runJson(pvrLoop, [String(f.pid), base, len, String(BUF)]);
        ck(['--dry-run']);
        const a = { anchorNs: [], ckptUs: [], rss: [] };
        for (let i = 0; i < reps; i++) {
          a.anchorNs.push(runJson(pvrLoop, [String(f.pid), base, len, String(BUF)]).ns);
          const j = ck(['--dry-run']);
          a.ckptUs.push(j.totalTime);
          a.rss.push(j.ckptPeakRss);
        }
        // (b) disk and (b') tmpfs: each side's time includes a `sync` right after it (its dirty pages
        // reach the disk); the order alternates, since whoever runs second inherits the other's writeback
        const writeBench = (root) => {
          const b = { anchorNs: [], ckptUs: [], rss: [], bytes: f.num('len') };
          const diskCkpt = (i) => {
            const dir = join(root, `d${i}`);
            sync();
            const j = ck(['-D', dir, '--track-mem', 'none']);
            b.ckptUs.push(j.totalTime + timedSync() / 1e3);
            b.rss.push(j.ckptPeakRss);
            b.bytes = j.bytesWritten;
            rmSync(dir, { recursive: true, force: true });
          };
          const diskAnchor = () => {
            const file = join(root, 'seq.bin');
            sync();
            b.anchorNs.push(runJson(seqWrite, [file, String(b.bytes), String(BUF)]).ns + timedSync());
            rmSync(file, { force: true });
          };
          // untimed warm-up pair: fresh page-cache memory for both sides alike
          diskCkpt(-1);
          diskAnchor();
          b.ckptUs.length = 0;
          b.anchorNs.length = 0;
          b.rss.length = 0;
          for (let i = 0; i < reps; i++) {
            if (i % 2 === 0) {
              diskCkpt(i);
              diskAnchor();
            } else {
              diskAnchor();
              diskCkpt(i);
            }
          }
          return b;
        };
        const b = writeBench(diskRoot);
        const shmRoot = mkdtempSync('/dev/shm/ckpt-bench-');
        let t;
        try {
          t = writeBench(shmRoot);
        } finally {
          rmSync(shmRoot, { recursive: true, force: true });
        }
        const bytes = Number(len);
        const ra = median(a.anchorNs) / 1e3 / median(a.ckptUs);
        const rb = median(b.anchorNs) / 1e3 / median(b.ckptUs);
        const rt = median(t.anchorNs) / 1e3 / median(t.ckptUs);
        const gbs = (n, us) => (n / us / 1e3).toFixed(2);
        console.log(
          `(a) read, discard : pvr_loop ${gbs(bytes, median(a.anchorNs) / 1e3)} GB/s, ckpt --dry-run ${gbs(bytes, median(a.ckptUs))} GB/s (incl. scan) -> ratio ${ra.toFixed(2)}`,
        );
        console.log(
          `(b) to disk       : seq_write ${gbs(b.bytes, median(b.anchorNs) / 1e3)} GB/s, ckpt -D ${gbs(b.bytes, median(b.ckptUs))} GB/s -> ratio ${rb.toFixed(2)}`,
        );
        console.log(`    runs (s)       : seq_write ${secs(b.anchorNs, 1e9)}; ckpt ${secs(b.ckptUs, 1e6)}`);
        console.log(
          `(b') to tmpfs     : seq_write ${gbs(t.bytes, median(t.anchorNs) / 1e3)} GB/s, ckpt -D ${gbs(t.bytes, median(t.ckptUs))} GB/s -> ratio ${rt.toFixed(2)}`,
        );
        console.log(`    runs (s)       : seq_write ${secs(t.anchorNs, 1e9)}; ckpt ${secs(t.ckptUs, 1e6)}`);
        console.log(
          `(c) ckpt peak RSS : ${(Math.max(...a.rss, ...b.rss, ...t.rss) / 2 ** 20).toFixed(1)} MiB`,
        );
        const v = withVariants ? variants(diskRoot, f, b.bytes, reps, seqWrite) : undefined;
        results.sizes.push({
          gib,
          bytes,
          a: { ...a, ratio: ra },
          b: { ...b, ratio: rb },
          tmpfs: { ...t, ratio: rt },
          variants: v,
          peakRss: Math.max(...a.rss, ...b.rss),
        });
      } finally {
        f.kill();
      }
    }
  } finally {
    rmSync(diskRoot, { recursive: true, force: true });
  }
  if (withVariants) results.sparse = await sparse(sizes[0], reps, Fixture);
  if (results.sizes.length >= 2) {
    const first = results.sizes[0];
    const last = results.sizes[results.sizes.length - 1];
    results.rssGrowth = last.peakRss - first.peakRss;
    console.log(
      `\n(c) peak RSS ${last.gib} GiB - ${first.gib} GiB = ${(results.rssGrowth / 2 ** 20).toFixed(1)} MiB (goal <= 16 MiB)`,
    );
  }
  const outDir = resolve(pkg, '../../bench-results');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `predump-${results.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results: ${out}`);
}
