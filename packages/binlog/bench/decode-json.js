// `binlog decode --json` against what a JSON pipeline costs for pino's own lines: JSON.parse +
// JSON.stringify of each line (what any JSON-lines consumer or re-emitter does). Same records, same run,
// same process; the variants alternate round by round; medians of on-CPU ns per record (schedstat, so
// the run-queue wait of this shared machine is not counted). Also the whole command, as a process,
// writing to /dev/null, against `cat` of the pino file piped through the same JSON.parse + stringify:
// wall time, and on-CPU time of every process of the pipeline (children's user + system time).
// usage: npm run build && node bench/decode-json.js      (BENCH_DECODE_RECORDS=1000000, BENCH_ROUNDS=5)
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { LineFormatter, LogReader } from '../dist/decode/index.js';
import { createLogger } from '../dist/index.js';
import { threadSched } from './cpu.js';

const here = dirname(fileURLToPath(import.meta.url));
const N = Number(process.env.BENCH_DECODE_RECORDS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const FMT = 'user %d logged in from %s with score %f';
const NAMES = ['alice', 'bobby', 'carol', 'david', 'erin_', 'frank', 'grace', 'heidi'];
const dir = fs.mkdtempSync(join(tmpdir(), 'binlog-bench-json-'));
const blog = join(dir, 'app.blog');
const plog = join(dir, 'app.log');

{
  const log = createLogger({ dest: blog, fields: { svc: 'api' } });
  for (let i = 0; i < N; i++) log.info(FMT, i, NAMES[i & 7], i * 1.1);
  log.close();
  const dest = pino.destination({ dest: plog, sync: true });
  const p = pino({ base: { pid: process.pid, svc: 'api' } }, dest);
  for (let i = 0; i < N; i++) p.info(FMT, i, NAMES[i & 7], i * 1.1);
  dest.flushSync();
}

/** Output as the CLI buffers it: lines joined per 64 KiB, handed to `sink`. */
function outBuffer(sink) {
  let lines = [];
  let size = 0;
  return {
    line(s) {
      lines.push(s);
      size += s.length;
      if (size > 65536) {
        sink(lines.join('\n'));
        lines = [];
        size = 0;
      }
    },
    end() {
      if (lines.length) sink(lines.join('\n'));
    },
  };
}

function binlogJson() {
  let chars = 0;
  const out = outBuffer((s) => {
    chars += s.length;
  });
  const lf = new LineFormatter();
  const r = new LogReader({});
  const buf = fs.readFileSync(blog);
  let n = 0;
  r.feed(buf, (e) => {
    out.line(lf.json(e));
    n++;
  });
  r.end();
  out.end();
  if (n !== N) throw new Error(`binlog: ${n} records`);
  return chars;
}

function pinoJson() {
  let chars = 0;
  const out = outBuffer((s) => {
    chars += s.length;
  });
  const text = fs.readFileSync(plog, 'utf8');
  let n = 0;
  for (let p = 0; ; ) {
    const q = text.indexOf('\n', p);
    if (q < 0) break;
    out.line(JSON.stringify(JSON.parse(text.slice(p, q))));
    n++;
    p = q + 1;
  }
  out.end();
  if (n !== N) throw new Error(`pino: ${n} lines`);
  return chars;
}

function cpuOf(fn) {
  globalThis.gc?.();
  const s0 = threadSched()[0];
  fn();
  return (threadSched()[0] - s0) / N;
}

/** CPU (user + system) of this process's waited-for children, in ns (/proc/self/stat cutime + cstime). */
function childrenCpu() {
  const f = fs.readFileSync('/proc/self/stat', 'utf8');
  const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(v[13]) + Number(v[14])) * 1e7; // clock ticks of 10 ms
}

/** A shell command's wall and CPU (every process of the pipeline), per record. */
function wallOf(cmd) {
  const c0 = childrenCpu();
  const t0 = process.hrtime.bigint();
  execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { wall: Number(process.hrtime.bigint() - t0) / N, cpu: (childrenCpu() - c0) / N };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const res = { binlog: [], pino: [], cliBinlog: [], cliPino: [], cliBinlogCpu: [], cliPinoCpu: [] };
const bin = join(here, '..', 'bin', 'binlog.js');
const pinoPipe = `'${process.execPath}' -e "const rl=require('readline').createInterface({input:process.stdin});let o=[];rl.on('line',l=>{o.push(JSON.stringify(JSON.parse(l)));if(o.length>1000){process.stdout.write(o.join('\\\\n')+'\\\\n');o=[]}});rl.on('close',()=>process.stdout.write(o.join('\\\\n')+'\\\\n'))"`;
for (let r = 0; r < ROUNDS; r++) {
  process.stderr.write(`round ${r + 1}/${ROUNDS}\n`);
  const order = r % 2 ? ['pino', 'binlog'] : ['binlog', 'pino'];
  for (const v of order) res[v].push(cpuOf(v === 'binlog' ? binlogJson : pinoJson));
  for (const v of order) {
    const t =
      v === 'binlog'
        ? wallOf(`'${process.execPath}' '${bin}' decode --json '${blog}' > /dev/null`)
        : wallOf(`cat '${plog}' | ${pinoPipe} > /dev/null`);
    res[v === 'binlog' ? 'cliBinlog' : 'cliPino'].push(t.wall);
    res[v === 'binlog' ? 'cliBinlogCpu' : 'cliPinoCpu'].push(t.cpu);
  }
}
const m = Object.fromEntries(Object.entries(res).map(([k, v]) => [k, median(v)]));
console.log(`records: ${N}; rounds: ${ROUNDS}; medians`);
console.log(
  `in process, on-CPU ns/record: binlog decode --json path ${m.binlog.toFixed(0)}, pino JSON.parse + JSON.stringify ${m.pino.toFixed(0)}`,
);
console.log(`  ratio binlog / pino: ${(m.binlog / m.pino).toFixed(2)} (below 1: binlog is faster)`);
console.log(
  `as processes, wall ns/record: binlog decode --json > /dev/null ${m.cliBinlog.toFixed(0)}, cat | node JSON.parse+stringify > /dev/null ${m.cliPino.toFixed(0)}`,
);
console.log(`  ratio binlog / pino: ${(m.cliBinlog / m.cliPino).toFixed(2)}`);
console.log(
  `as processes, on-CPU ns/record (user + system, every process of the pipeline): binlog ${m.cliBinlogCpu.toFixed(0)}, pino ${m.cliPinoCpu.toFixed(0)}`,
);
console.log(`  ratio binlog / pino: ${(m.cliBinlogCpu / m.cliPinoCpu).toFixed(2)}`);
console.log(`sizes: binlog ${fs.statSync(blog).size} bytes, pino ${fs.statSync(plog).size} bytes`);
fs.rmSync(dir, { recursive: true, force: true });
