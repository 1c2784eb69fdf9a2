// binlog benchmark: binlog (mode 1, mode 2, and mode 2 with the coarse clock) against pino (sync and async
// destinations) on the same machine in the same run; then decode speed against JSON.parse of pino's lines.
// Every measurement is a fresh `node bench/one.js` process; variants alternate round by round; medians.
// usage: node bench/run.js            (BENCH_ROUNDS=5, BENCH_CALLS=1000000, BENCH_PINO_CALLS=200000)
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CALLS = Number(process.env.BENCH_CALLS ?? 1_000_000);
const PINO_CALLS = Number(process.env.BENCH_PINO_CALLS ?? 200_000);
const DECODE_RECORDS = Number(process.env.BENCH_DECODE_RECORDS ?? 300_000);

const write = [
  { name: 'binlog mode 1', variant: 'binlog-m1', calls: CALLS },
  { name: 'binlog mode 2', variant: 'binlog-m2', calls: CALLS },
  {
    name: 'binlog mode 2, coarse clock',
    variant: 'binlog-m2',
    calls: CALLS,
    env: { BINLOG_CLOCK: 'coarse' },
  },
  { name: 'anchor: research prototype design', variant: 'proto', calls: CALLS },
  { name: 'pino sync', variant: 'pino-sync', calls: PINO_CALLS },
  { name: 'pino async (minLength 4096)', variant: 'pino-async', calls: PINO_CALLS },
];
const decode = [
  { name: 'binlog decode: records with their arguments', variant: 'decode-binlog' },
  { name: 'binlog decode: records + text lines (time, level, message)', variant: 'decode-binlog-text' },
  { name: 'pino lines, JSON.parse', variant: 'decode-pino' },
  { name: 'pino lines, JSON.parse + the same text lines', variant: 'decode-pino-text' },
];

// pino's call shapes, binlog (mode 1: these calls are not rewritten) against pino sync only
const SHAPES = ['dyn', 'obj', 'err'];
const SHAPE_NAMES = {
  fmt: 'int + string + float',
  plain: 'plain',
  dyn: 'dynamic message ("user <i> paid", all distinct)',
  obj: '({ user, n }, "paid %d", i)',
  err: 'error(err)',
};
const shapeWriters = write.filter((w) => w.variant === 'binlog-m1' || w.variant === 'pino-sync');

const dir = fs.mkdtempSync(join(tmpdir(), 'binlog-bench-'));
function one(variant, msg, calls, env = {}) {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', join(here, 'one.js'), variant, msg, String(calls), dir],
    {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    },
  );
  return JSON.parse(out.trim().split('\n').pop());
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const runs = new Map();
const key = (w, msg) => `${w.name}|${msg}`;
for (let r = 0; r < ROUNDS; r++) {
  process.stderr.write(`round ${r + 1}/${ROUNDS}\n`);
  for (const msg of ['fmt', 'plain']) {
    for (const w of r % 2 ? [...write].reverse() : write) {
      const k = key(w, msg);
      if (!runs.has(k)) runs.set(k, []);
      runs.get(k).push(one(w.variant, msg, w.calls, w.env));
    }
  }
  for (const msg of SHAPES) {
    for (const w of r % 2 ? [...shapeWriters].reverse() : shapeWriters) {
      const k = key(w, msg);
      if (!runs.has(k)) runs.set(k, []);
      runs.get(k).push(one(w.variant, msg, w.calls, w.env));
    }
  }
  for (const d of r % 2 ? [...decode].reverse() : decode) {
    const k = key(d, 'fmt');
    if (!runs.has(k)) runs.set(k, []);
    runs.get(k).push(one(d.variant, 'fmt', DECODE_RECORDS));
  }
}

const summary = {};
for (const [k, rs] of runs) {
  const s = {};
  for (const f of [
    'nsPerCall',
    'cpuNsPerCall',
    'processCpuNsPerCall',
    'waitFraction',
    'bytesPerRecord',
    'heapGrowthMB',
    'recordsPerSec',
    'cpuRecordsPerSec',
  ]) {
    if (rs[0][f] !== undefined) s[f] = median(rs.map((x) => x[f]));
  }
  summary[k] = s;
}

const get = (name, msg) => summary[`${name}|${msg}`];
const f1 = (x) => (x === undefined ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const lines = [];
lines.push(
  `binlog benchmark: ${ROUNDS} rounds, medians; binlog ${CALLS} calls, pino ${PINO_CALLS} calls per run`,
);
lines.push(
  'ns/call = wall time until the file is closed; cpu ns/call = main-thread on-CPU time (schedstat),',
);
lines.push(
  'which is what counts on this shared 2-core machine; process cpu = every thread of the process (what the',
);
lines.push(
  "caller's machine pays: the coarse clock's ticking thread, libuv's pool); wait = share of wall time spent",
);
lines.push('waiting for a CPU.');
lines.push('');
lines.push(
  '| logger | message | ns/call | cpu ns/call | process cpu ns/call | wait | bytes/record | heap growth MB |',
);
lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
for (const msg of ['fmt', 'plain', ...SHAPES]) {
  for (const w of SHAPES.includes(msg) ? shapeWriters : write) {
    const s = get(w.name, msg);
    lines.push(
      `| ${w.name} | ${SHAPE_NAMES[msg]} | ${f1(s.nsPerCall)} | ${f1(s.cpuNsPerCall)} | ${f1(s.processCpuNsPerCall)} | ${(s.waitFraction * 100).toFixed(0)}% | ${s.bytesPerRecord.toFixed(1)} | ${s.heapGrowthMB.toFixed(1)} |`,
    );
  }
}
lines.push('');
lines.push('| decoder | records/s (wall) | records/s (cpu) |');
lines.push('|---|---:|---:|');
for (const d of decode) {
  const s = get(d.name, 'fmt');
  lines.push(
    `| ${d.name} | ${(s.recordsPerSec / 1e6).toFixed(2)} M | ${(s.cpuRecordsPerSec / 1e6).toFixed(2)} M |`,
  );
}
lines.push('');
const ratios = {};
for (const msg of ['fmt', 'plain']) {
  const sync = get('pino sync', msg);
  for (const name of [
    'binlog mode 1',
    'binlog mode 2',
    'binlog mode 2, coarse clock',
    'anchor: research prototype design',
  ]) {
    const b = get(name, msg);
    ratios[`${name} vs pino sync, ${msg}`] = {
      speedupWall: sync.nsPerCall / b.nsPerCall,
      speedupCpu: sync.cpuNsPerCall / b.cpuNsPerCall,
      speedupProcessCpu: sync.processCpuNsPerCall / b.processCpuNsPerCall,
      bytesRatio: b.bytesPerRecord / sync.bytesPerRecord,
    };
  }
}
for (const msg of SHAPES) {
  const sync = get('pino sync', msg);
  const b = get('binlog mode 1', msg);
  ratios[`binlog vs pino sync, ${SHAPE_NAMES[msg]}`] = {
    speedupWall: sync.nsPerCall / b.nsPerCall,
    speedupCpu: sync.cpuNsPerCall / b.cpuNsPerCall,
    speedupProcessCpu: sync.processCpuNsPerCall / b.processCpuNsPerCall,
    bytesRatio: b.bytesPerRecord / sync.bytesPerRecord,
  };
}
const cpuRate = (d) => get(d.name, 'fmt').cpuRecordsPerSec;
const dec = cpuRate(decode[0]) / cpuRate(decode[2]);
const decText = cpuRate(decode[1]) / cpuRate(decode[3]);
lines.push('| ratio | speed-up (wall) | speed-up (cpu) | speed-up (process cpu) | bytes binlog/pino |');
lines.push('|---|---:|---:|---:|---:|');
for (const [k, v] of Object.entries(ratios)) {
  lines.push(
    `| ${k} | ${v.speedupWall.toFixed(1)}x | ${v.speedupCpu.toFixed(1)}x | ${v.speedupProcessCpu.toFixed(1)}x | ${v.bytesRatio.toFixed(3)} |`,
  );
}
lines.push(`| decode: binlog records/s / pino JSON.parse lines/s | | ${dec.toFixed(2)}x | | |`);
lines.push(
  `| decode to text lines: binlog / pino JSON.parse + the same lines | | ${decText.toFixed(2)}x | | |`,
);
lines.push('');
const m2 = get('binlog mode 2', 'fmt');
const m2c = get('binlog mode 2, coarse clock', 'fmt');
const goals = [
  ['mode 2 <= 100 ns/call (cpu), precise clock', m2.cpuNsPerCall <= 100, f1(m2.cpuNsPerCall)],
  ['mode 2 <= 100 ns/call (cpu), coarse clock', m2c.cpuNsPerCall <= 100, f1(m2c.cpuNsPerCall)],
  [
    'mode 2 >= 40x pino sync (cpu)',
    ratios['binlog mode 2 vs pino sync, fmt'].speedupCpu >= 40,
    ratios['binlog mode 2 vs pino sync, fmt'].speedupCpu.toFixed(1),
  ],
  [
    'bytes/record <= 0.3x pino',
    ratios['binlog mode 2 vs pino sync, fmt'].bytesRatio <= 0.3,
    ratios['binlog mode 2 vs pino sync, fmt'].bytesRatio.toFixed(3),
  ],
  [
    'decode >= 2 M records/s (cpu)',
    get(decode[0].name, 'fmt').cpuRecordsPerSec >= 2e6,
    (get(decode[0].name, 'fmt').cpuRecordsPerSec / 1e6).toFixed(2),
  ],
  [
    'decode to text lines >= 2 M records/s (cpu; the goal is stated for records, this one is reported)',
    get(decode[1].name, 'fmt').cpuRecordsPerSec >= 2e6,
    (get(decode[1].name, 'fmt').cpuRecordsPerSec / 1e6).toFixed(2),
  ],
];
for (const msg of SHAPES) {
  const r = ratios[`binlog vs pino sync, ${SHAPE_NAMES[msg]}`].speedupCpu;
  goals.push([`${SHAPE_NAMES[msg]} >= 10x pino sync (cpu)`, r >= 10, r.toFixed(1)]);
}
const dyn = get('binlog mode 1', 'dyn');
goals.push([
  `dynamic messages: heap growth < 10 MB over ${CALLS} distinct messages`,
  dyn.heapGrowthMB < 10,
  `${dyn.heapGrowthMB.toFixed(2)} MB`,
]);
const proto = get('anchor: research prototype design', 'fmt');
goals.push([
  'mode 2 (coarse) cpu ns/call <= the research prototype design in this run (the 100 ns goal was set when that design measured 76 ns)',
  m2c.cpuNsPerCall <= proto.cpuNsPerCall,
  `${f1(m2c.cpuNsPerCall)} vs ${f1(proto.cpuNsPerCall)}`,
]);
for (const [g, ok, v] of goals) lines.push(`goal: ${g}: ${ok ? 'met' : 'MISSED'} (${v})`);
process.stdout.write(`${lines.join('\n')}\n`);

const outDir = join(here, '..', 'bench-results');
fs.mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(
  outFile,
  JSON.stringify(
    { rounds: ROUNDS, calls: CALLS, pinoCalls: PINO_CALLS, summary, ratios, runs: Object.fromEntries(runs) },
    null,
    2,
  ),
);
process.stdout.write(`results: ${outFile}\n`);
fs.rmSync(dir, { recursive: true, force: true });
