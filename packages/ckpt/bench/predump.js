// Pre-dump benchmark: ckpt against its anchors, back to back on the same pre-warmed static target.
//  (a) read path: `ckpt pre-dump --dry-run` (scan + process_vm_readv into one 4 MiB buffer, pages
//      discarded; ckpt's own totalTime) vs pvr_loop.c (process_vm_readv of the known region, 4 MiB buffer)
//  (b) to disk: `ckpt pre-dump -D DIR` (DIR on the root filesystem; ckpt's totalTime: scan, read, write
//      the images) vs seq_write.c writing the same number of bytes in 4 MiB writes to the same filesystem;
//      each side's time includes a `sync` right after it (so both pay for reaching the disk), an untimed
//      `sync` runs before each, and the order alternates.
//  (b') the same two writers into a tmpfs (/dev/shm): the write path without the disk's noise.
//  (c) ckpt's peak RSS (VmHWM of the ckpt process, reported by --json) at 1 GiB and 4 GiB.
// Runs alternate anchor/ckpt; medians of REPS (default 3). Ratios are anchor time / ckpt time (>= 0.9 is the
// goal). JSON goes to bench-results/predump-<date>.json.
// usage: npm run bench -w ckpt -- predump [sizesGiB=1,4] [reps=3]
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

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sync = () => spawnSync('sync');

function runJson(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export async function run(args) {
  const sizes = (args[0] ?? '1,4').split(',').map(Number);
  const reps = Number(args[1] ?? 3);
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
          const timedSync = () => {
            const t = process.hrtime.bigint();
            sync();
            return Number(process.hrtime.bigint() - t);
          };
          const diskCkpt = (i) => {
            const dir = join(root, `d${i}`);
            sync();
            const j = ck(['-D', dir]);
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
        console.log(
          `(b') to tmpfs     : seq_write ${gbs(t.bytes, median(t.anchorNs) / 1e3)} GB/s, ckpt -D ${gbs(t.bytes, median(t.ckptUs))} GB/s -> ratio ${rt.toFixed(2)}`,
        );
        console.log(
          `(c) ckpt peak RSS : ${(Math.max(...a.rss, ...b.rss, ...t.rss) / 2 ** 20).toFixed(1)} MiB`,
        );
        results.sizes.push({
          gib,
          bytes,
          a: { ...a, ratio: ra },
          b: { ...b, ratio: rb },
          peakRss: Math.max(...a.rss, ...b.rss),
        });
      } finally {
        f.kill();
      }
    }
  } finally {
    rmSync(diskRoot, { recursive: true, force: true });
  }
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
