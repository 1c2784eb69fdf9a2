// Compression benchmark: the block codecs of the migration wire (xfer/codec.ts) on REAL process memory.
// Three targets are started and filled before anything is timed: a Python process holding records (dicts,
// strings, floats), a Node process holding the same kind of objects, and a redis-server loaded through
// redis-cli --pipe (hashes, JSON strings, lists; skipped when redis-server is not installed). Their pages
// are read as a dump reads them (testing/page-sample.ts: maps -> planVmas -> findPages -> PageReader), up to
// --mib MiB each, and cut into blocks of --block bytes (the sender's unit). Then, for each codec, every
// block is compressed and decompressed (round trip checked, untimed), --reps times; each block keeps its
// fastest time (the machine is shared: contention only adds time).
// Codecs: ckpt's none / lz4 / zstd (at several levels); anchors: Node's zlib deflate (level 1) and brotli
// (quality 1), measured as anchors only; and, with --alt DIR (a folder where `npm i lz4-napi
// @toondepauw/node-zstd` was run), the registry bindings that were the other candidates.
// Printed per target and for all blocks together: compress MB/s, decompress MB/s, ratio (raw/compressed),
// and the effective throughput over 1 and 10 Gbit/s links, pipelined per block:
//   time(block) = max(compress, compressed bytes / link, decompress);  effective = raw bytes / sum(time)
// with its ratio against 'none' on the same link. JSON goes to bench-results/compress-<date>.json.
// Last, the thread-pool question: lz4, zstd -1 and zstd 1 compress throughput on the main thread against the same
// C functions called through koffi's .async (libuv's thread pool) with 1, 2 and 4 blocks in flight.
// usage: npm run bench -w ckpt -- compress [--mib 128] [--block 1M] [--reps 3] [--alt DIR]
//          [--targets python,node,redis] [--no-threads]
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as zlib from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const dist = join(pkg, 'dist');

const opt = (args, name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const size = (s) => {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return Number(m[1]) * { '': 1, K: 1024, M: 1 << 20, G: 1 << 30 }[m[2].toUpperCase()];
};
const LINKS = [
  { name: '1 Gbit/s', bps: 1e9 / 8 },
  { name: '10 Gbit/s', bps: 10e9 / 8 },
];

// --- the targets: realistic heaps, filled before anything is read ---------------------------------------

const PY = `
import random, sys, time
random.seed(1)
names = ['anna','bruno','chen','dmitri','eva','farid','grace','hiro','ines','jamal','kofi','lena','mateo','nadia']
cities = ['Lisbon','Osaka','Nairobi','Lyon','Austin','Pune','Krakow','Quito','Perth','Oslo']
records, texts = [], []
target = int(sys.argv[1]) << 20
i = 0
while i * 900 < target:
    n = random.choice(names)
    records.append({'id': i, 'name': n + ' ' + random.choice(names).upper(), 'email': f'{n}.{i}@example.org',
        'age': random.randint(18, 90), 'city': random.choice(cities), 'score': random.random() * 100,
        'tags': [random.choice(names) for _ in range(random.randint(0, 4))],
        'history': [random.randint(0, 10**6) for _ in range(random.randint(1, 12))]})
    if i % 50 == 0:
        texts.append(' '.join(random.choice(names) + str(random.randint(0, 999)) for _ in range(200)))
    i += 1
print('ready', flush=True)
time.sleep(3600)
`;

const NODE = `
let seed = 1;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const names = ['anna','bruno','chen','dmitri','eva','farid','grace','hiro','ines','jamal','kofi','lena','mateo','nadia'];
const cities = ['Lisbon','Osaka','Nairobi','Lyon','Austin','Pune','Krakow','Quito','Perth','Oslo'];
const target = Number(process.argv[1]) << 20;
const records = [], byCity = new Map(), texts = [];
for (let i = 0; i * 450 < target; i++) {
  const n = pick(names);
  const r = { id: i, name: n + ' ' + pick(names).toUpperCase(), email: n + '.' + i + '@example.org',
    age: 18 + Math.floor(rnd() * 72), city: pick(cities), score: rnd() * 100, created: new Date(1.7e12 + i * 1000),
    tags: Array.from({ length: Math.floor(rnd() * 4) }, () => pick(names)),
    history: Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => Math.floor(rnd() * 1e6)) };
  records.push(r);
  if (!byCity.has(r.city)) byCity.set(r.city, []);
  byCity.get(r.city).push(r);
  if (i % 50 === 0) texts.push(Array.from({ length: 200 }, () => pick(names) + Math.floor(rnd() * 1000)).join(' '));
}
console.log('ready');
setInterval(() => records.length, 1e6);
`;

/** Start a target; resolves with its pid once it printed "ready" (or the redis load finished). */
function startScript(cmd, args) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res, rej) => {
    p.on('error', rej);
    p.on('exit', (c) => rej(new Error(`${cmd} exited with ${c} before it was ready`)));
    p.stdout.on('data', (d) => {
      if (String(d).includes('ready')) res(p);
    });
  });
}

function redisLoad(sock, mib) {
  const names = ['anna', 'bruno', 'chen', 'dmitri', 'eva', 'farid', 'grace', 'hiro', 'ines', 'jamal'];
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const cmd = (...a) =>
    `*${a.length}\r\n${a.map((x) => `$${Buffer.byteLength(String(x))}\r\n${x}\r\n`).join('')}`;
  const parts = [];
  for (let i = 0; i * 400 < mib << 20; i++) {
    const n = pick(names);
    parts.push(
      cmd(
        'HSET',
        `user:${i}`,
        'name',
        n,
        'email',
        `${n}.${i}@example.org`,
        'age',
        18 + (i % 70),
        'visits',
        i * 7,
      ),
    );
    const session = { user: i, ip: `10.${i & 255}.${(i >> 8) & 255}.${Math.floor(rnd() * 255)}`, cart: [] };
    for (let k = Math.floor(rnd() * 4); k > 0; k--)
      session.cart.push({ sku: Math.floor(rnd() * 1e5), qty: 1 + k });
    parts.push(cmd('SET', `session:${(i * 2654435761) >>> 0}`, JSON.stringify(session)));
    if (i % 10 === 0) parts.push(cmd('LPUSH', `events:${i % 500}`, `login ${n} ${1.7e12 + i} ok`));
  }
  const r = spawnSync('redis-cli', ['-s', sock, '--pipe'], { input: parts.join(''), maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`redis-cli --pipe: ${r.stderr}`);
}

async function startTargets(names, mib, work, procs) {
  const out = [];
  for (const name of names) {
    if (name === 'python') {
      const p = await startScript('python3', ['-c', PY, String(mib)]);
      procs.push(p);
      out.push({ name, pid: p.pid });
    } else if (name === 'node') {
      const p = await startScript(process.execPath, ['-e', NODE, String(mib)]);
      procs.push(p);
      out.push({ name, pid: p.pid });
    } else if (name === 'redis') {
      if (spawnSync('redis-server', ['--version']).status !== 0) {
        console.log('redis: redis-server is not installed (apt-get install redis-server): skipped');
        continue;
      }
      const sock = join(work, 'redis.sock');
      const p = spawn(
        'redis-server',
        ['--port', '0', '--unixsocket', sock, '--save', '', '--appendonly', 'no'],
        {
          stdio: 'ignore',
        },
      );
      procs.push(p);
      for (let i = 0; i < 100 && spawnSync('redis-cli', ['-s', sock, 'ping']).status !== 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      redisLoad(sock, mib);
      out.push({ name, pid: p.pid });
    }
  }
  return out;
}

// --- the contenders ---------------------------------------------------------------------------------

async function contenders(altDir) {
  const { openCodec, availableCodecs } = await import(pathToFileURL(join(dist, 'xfer/index.js')).href);
  const have = availableCodecs();
  const list = [];
  const ckpt = (label, name, level) => {
    if (!have.includes(name)) return console.log(`${label}: library not available here: skipped`);
    const c = openCodec(name, { level });
    list.push({
      label,
      kind: 'ckpt',
      compress: (b) => c.compress(b),
      decompress: (b, n) => c.decompress(b, n),
    });
  };
  ckpt('none', 'none');
  ckpt('lz4', 'lz4', 1);
  ckpt('lz4 accel=4', 'lz4', 4);
  ckpt('zstd -1', 'zstd', -1);
  ckpt('zstd 1', 'zstd', 1);
  ckpt('zstd 3', 'zstd', 3);
  const deflate = { level: 1 };
  list.push({
    label: 'deflate 1 (anchor)',
    kind: 'anchor',
    compress: (b) => zlib.deflateRawSync(b, deflate),
    decompress: (b) => zlib.inflateRawSync(b),
  });
  list.push({
    label: 'brotli 1 (anchor)',
    kind: 'anchor',
    compress: (b) =>
      zlib.brotliCompressSync(b, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: 1,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length,
        },
      }),
    decompress: (b) => zlib.brotliDecompressSync(b),
  });
  if (altDir) {
    const req = createRequire(join(resolve(altDir), 'package.json'));
    try {
      const lz4 = req('lz4-napi');
      list.push({
        label: 'lz4-napi (alt)',
        kind: 'alt',
        compress: (b) => lz4.compressSync(Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
        decompress: (b) => lz4.uncompressSync(b),
      });
    } catch (e) {
      console.log(`lz4-napi: not loadable from ${altDir}: ${String(e.message).split('\n')[0]}`);
    }
    try {
      const { Encoder, Decoder } = req('@toondepauw/node-zstd');
      const enc = new Encoder(1);
      const dec = new Decoder();
      list.push({
        label: 'node-zstd 1 (alt)',
        kind: 'alt',
        compress: (b) => enc.encodeSync(Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
        decompress: (b) => dec.decodeSync(b),
      });
    } catch (e) {
      console.log(`@toondepauw/node-zstd: not loadable from ${altDir}: ${String(e.message).split('\n')[0]}`);
    }
  }
  return list;
}

// --- the thread pool: the same C functions through koffi's .async, K blocks in flight --------------------

/** Compress MB/s of lz4, zstd -1 and zstd 1 on `blocks`: sync on the main thread, and async with 1, 2, 4 in flight. */
async function threadPool(blocks, reps) {
  const { default: koffi } = await import('koffi');
  const lz4 = koffi.load('liblz4.so.1');
  const zstd = koffi.load('libzstd.so.1');
  const lz4c = lz4.func('int LZ4_compress_fast(const void *s, void *d, int n, int cap, int accel)');
  const zc = zstd.func(
    'int64_t ZSTD_compressCCtx(void *c, void *d, size_t cap, const void *s, size_t n, int lvl)',
  );
  const newCtx = zstd.func('void *ZSTD_createCCtx()');
  const freeCtx = zstd.func('size_t ZSTD_freeCCtx(void *c)');
  const codecs = {
    lz4: {
      call: (_ctx, b, out, cb) => lz4c.async(b, out, b.length, out.length, 1, cb),
      sync: (_c, b, o) => lz4c(b, o, b.length, o.length, 1),
    },
  };
  for (const level of [-1, 1]) {
    codecs[`zstd ${level}`] = {
      call: (ctx, b, out, cb) => zc.async(ctx, out, out.length, b, b.length, level, cb),
      sync: (c, b, o) => zc(c, o, o.length, b, b.length, level),
    };
  }
  const bytes = blocks.reduce((a, b) => a + b.length, 0);
  const rows = [];
  for (const [label, c] of Object.entries(codecs)) {
    const row = { label, syncMBs: 0, asyncMBs: {} };
    for (let r = 0; r < reps; r++) {
      const ctx = newCtx();
      const out = Buffer.allocUnsafe(2 * blocks[0].length + 65536);
      let t0 = process.hrtime.bigint();
      for (const b of blocks) c.sync(ctx, b, out);
      row.syncMBs = Math.max(row.syncMBs, (bytes / 1e3 / Number(process.hrtime.bigint() - t0)) * 1e6);
      for (const k of [1, 2, 4]) {
        const slots = Array.from({ length: k }, () => ({
          ctx: newCtx(),
          out: Buffer.allocUnsafe(out.length),
        }));
        let next = 0;
        t0 = process.hrtime.bigint();
        await Promise.all(
          slots.map(async (s) => {
            while (next < blocks.length) {
              const b = blocks[next++];
              const n = await new Promise((res, rej) =>
                c.call(s.ctx, b, s.out, (e, v) => (e ? rej(e) : res(v))),
              );
              if (n <= 0) throw new Error(`${label}: async compress returned ${n}`);
            }
          }),
        );
        const mbs = (bytes / 1e3 / Number(process.hrtime.bigint() - t0)) * 1e6;
        row.asyncMBs[k] = Math.max(row.asyncMBs[k] ?? 0, mbs);
        for (const s of slots) freeCtx(s.ctx);
      }
      freeCtx(ctx);
    }
    rows.push(row);
  }
  console.log(`\nthread pool (koffi .async, compress only, ${blocks.length} blocks, best of ${reps}):`);
  for (const r of rows) {
    const a = Object.entries(r.asyncMBs).map(([k, v]) => `${k} in flight ${v.toFixed(0)}`);
    console.log(`${r.label.padEnd(7)} sync ${r.syncMBs.toFixed(0)} MB/s; async: ${a.join(', ')} MB/s`);
  }
  return rows;
}

// --- measuring -------------------------------------------------------------------------------------

/** Per block: fastest compress and decompress ns over `reps`, and the compressed size. */
function measure(c, blocks, reps) {
  const cNs = new Array(blocks.length).fill(Number.POSITIVE_INFINITY);
  const dNs = new Array(blocks.length).fill(Number.POSITIVE_INFINITY);
  const sizes = new Array(blocks.length).fill(0);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i];
      const t0 = process.hrtime.bigint();
      const z = c.compress(b);
      const t1 = process.hrtime.bigint();
      const wire = Buffer.from(z); // compress() may return a view valid until the next call: keep a copy
      const t2 = process.hrtime.bigint();
      const back = c.decompress(wire, b.length);
      const t3 = process.hrtime.bigint();
      cNs[i] = Math.min(cNs[i], Number(t1 - t0));
      dNs[i] = Math.min(dNs[i], Number(t3 - t2));
      sizes[i] = wire.length;
      if (r === 0 && !back.equals(b)) throw new Error(`${c.label}: block ${i} does not round-trip`);
    }
  }
  return { cNs, dNs, sizes };
}

function summarize(m, blocks, idx) {
  let raw = 0;
  let comp = 0;
  let cNs = 0;
  let dNs = 0;
  const eff = LINKS.map(() => 0);
  for (const i of idx) {
    raw += blocks[i].length;
    comp += m.sizes[i];
    cNs += m.cNs[i];
    dNs += m.dNs[i];
    LINKS.forEach((l, k) => {
      eff[k] += Math.max(m.cNs[i], (m.sizes[i] / l.bps) * 1e9, m.dNs[i]);
    });
  }
  return {
    rawBytes: raw,
    compressedBytes: comp,
    ratio: raw / comp,
    compressMBs: raw / 1e6 / (cNs / 1e9),
    decompressMBs: raw / 1e6 / (dNs / 1e9),
    effectiveMBs: eff.map((ns) => raw / 1e6 / (ns / 1e9)),
  };
}

function table(title, rows) {
  console.log(`\n${title}`);
  const none = rows.find((r) => r.label === 'none');
  const head = [
    'codec',
    'ratio',
    'compress MB/s',
    'decompress MB/s',
    ...LINKS.flatMap((l) => [l.name, 'x none']),
  ];
  const lines = rows.map((r) => [
    r.label,
    r.ratio.toFixed(2),
    r.label === 'none' ? '-' : r.compressMBs.toFixed(0),
    r.label === 'none' ? '-' : r.decompressMBs.toFixed(0),
    ...r.effectiveMBs.flatMap((e, k) => [
      `${e.toFixed(0)} MB/s`,
      none ? (e / none.effectiveMBs[k]).toFixed(2) : '-',
    ]),
  ]);
  const w = head.map((h, k) => Math.max(h.length, ...lines.map((l) => l[k].length)));
  const fmt = (l) => l.map((x, k) => (k === 0 ? x.padEnd(w[k]) : x.padStart(w[k]))).join('  ');
  console.log(fmt(head));
  for (const l of lines) console.log(fmt(l));
}

export async function run(args) {
  const mib = Number(opt(args, 'mib', '128'));
  const block = size(opt(args, 'block', '1M'));
  const reps = Number(opt(args, 'reps', '3'));
  const names = opt(args, 'targets', 'python,node,redis').split(',');
  const results = { date: new Date().toISOString(), mib, block, reps, targets: [], codecs: [] };
  const work = mkdtempSync(join(tmpdir(), 'ckpt-compress-'));
  const procs = [];
  const blocks = [];
  const ofTarget = new Map();
  const { samplePages } = await import(pathToFileURL(join(dist, 'testing/index.js')).href);
  try {
    const targets = await startTargets(names, mib, work, procs);
    for (const t of targets) {
      const { bytes, presentBytes } = await samplePages(t.pid, mib << 20);
      const idx = [];
      for (let o = 0; o + block <= bytes.length; o += block)
        idx.push(blocks.push(bytes.subarray(o, o + block)) - 1);
      ofTarget.set(t.name, idx);
      results.targets.push({ name: t.name, presentBytes, sampledBytes: idx.length * block });
      console.log(
        `${t.name}: pid ${t.pid}, ${(presentBytes / 2 ** 20).toFixed(0)} MiB present, ` +
          `${idx.length} blocks of ${block >> 10} KiB sampled`,
      );
    }
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
  const list = await contenders(opt(args, 'alt'));
  const all = blocks.map((_b, i) => i);
  for (const c of list) {
    const m = measure(c, blocks, reps);
    const row = { label: c.label, kind: c.kind, all: summarize(m, blocks, all), byTarget: {} };
    for (const [t, idx] of ofTarget) row.byTarget[t] = summarize(m, blocks, idx);
    results.codecs.push(row);
  }
  for (const t of ofTarget.keys()) {
    table(
      `${t}:`,
      results.codecs.map((r) => ({ label: r.label, ...r.byTarget[t] })),
    );
  }
  table(
    `all targets (${blocks.length} blocks):`,
    results.codecs.map((r) => ({ label: r.label, ...r.all })),
  );
  if (!args.includes('--no-threads')) results.threadPool = await threadPool(blocks.slice(0, 96), reps);
  const outDir = resolve(pkg, '../../bench-results');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `compress-${results.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results: ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await run(process.argv.slice(2));
