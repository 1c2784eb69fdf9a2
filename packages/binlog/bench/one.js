// One benchmark measurement in a fresh process; prints one JSON line.
// usage: node --expose-gc bench/one.js <variant> <fmt|plain|dyn|obj|err> <calls> <dir>
// messages: fmt = a constant format with an int, a string and a float; plain = a constant message;
// dyn = a dynamic message (`user ${i} paid`, every one distinct); obj = pino's (object, format, arg) shape;
// err = log.error(err) (one of 8 errors made before the run: their stacks are captured once, as in a
// service that logs an error it caught).
// variants: binlog-m1, binlog-m2, proto (the research prototype's design), pino-sync, pino-async (write path);
// decode-binlog (records with their arguments), decode-binlog-text (plus a text line per record:
// ISO time, level, message), decode-pino (JSON.parse of each line), decode-pino-text (JSON.parse plus the
// same text line, built by the same LineFormatter code).
import { once } from 'node:events';
import * as fs from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { LineFormatter, LogReader } from '../dist/decode/index.js';
import { createLogger, makeDictionary, registerDictionary } from '../dist/index.js';
import { processCpu, threadSched as sched } from './cpu.js';

const [variant, msg, callsArg, dir] = process.argv.slice(2);
const N = Number(callsArg);
const FMT = 'user %d logged in from %s with score %f';
const PLAIN = 'user logged in';
const NAMES = ['alice', 'bobby', 'carol', 'david', 'erin_', 'frank', 'grace', 'heidi'];
const gc = globalThis.gc ?? (() => {});
const ERRORS = NAMES.map((n) => Object.assign(new Error(`request for ${n} failed`), { code: 'E_BENCH' }));
let dynBase = 0; // dynamic messages stay distinct across the warm-up and the timed run

// One loop per message shape, the same calls for binlog and pino (`log` is either).
function loop(log, n, mode) {
  if (msg === 'fmt') {
    if (mode === 2) for (let i = 0; i < n; i++) log.info(F1, i, NAMES[i & 7], i * 1.1);
    else for (let i = 0; i < n; i++) log.info(FMT, i, NAMES[i & 7], i * 1.1);
  } else if (msg === 'plain') {
    if (mode === 2) for (let i = 0; i < n; i++) log.info(F2);
    else for (let i = 0; i < n; i++) log.info(PLAIN);
  } else if (msg === 'dyn') {
    const b = dynBase;
    dynBase += n;
    for (let i = b; i < b + n; i++) log.info(`user ${i} paid`);
  } else if (msg === 'obj') for (let i = 0; i < n; i++) log.info({ user: NAMES[i & 7], n: i }, 'paid %d', i);
  else if (msg === 'err') for (let i = 0; i < n; i++) log.error(ERRORS[i & 7]);
  else throw new Error(`unknown message shape ${msg}`);
}
let F1;
let F2;
const LEVELS = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

// One run's figures, taken right after the logger finished: `loop` until the last call returned, `total`
// until everything was written and closed, on-CPU and run-queue-wait time from schedstat.
function timing(s0, t0, t1, p0) {
  const s1 = sched();
  return {
    loop: Number(t1 - t0),
    total: Number(process.hrtime.bigint() - t0),
    cpu: s1[0] - s0[0],
    cpuAll: processCpu() - p0,
    wait: s1[1] - s0[1],
  };
}

function fresh(file) {
  fs.rmSync(file, { force: true }); // pino's destination appends
  return file;
}

function binlogRun(file, n, mode) {
  fresh(file);
  const log = createLogger({ dest: file, clock: process.env.BINLOG_CLOCK ?? 'precise' });
  const p0 = processCpu();
  const s0 = sched();
  const t0 = process.hrtime.bigint();
  loop(log, n, mode);
  const t1 = process.hrtime.bigint();
  log.close();
  return timing(s0, t0, t1, p0);
}

// The research note's throwaway prototype, rebuilt as a same-run anchor: a precompiled encoder for this one
// format, performance.now() as f64, int32/ASCII/f64 arguments, 64 KiB buffer, fs.writeSync when full. No
// levels, no framing or CRC, no fields, no exact-value tags: the floor a JavaScript binary logger reaches here.
function protoRun(file, n) {
  fresh(file);
  const fd = fs.openSync(file, 'w');
  const buf = Buffer.allocUnsafe(65536);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  let p = 0;
  const flush = () => {
    fs.writeSync(fd, buf, 0, p);
    p = 0;
  };
  const fmtLog = (a, s, f) => {
    if (p + 64 + s.length > 65536) flush();
    dv.setUint32(p, 1, true);
    dv.setFloat64(p + 4, performance.now(), true);
    dv.setInt32(p + 12, a, true);
    dv.setUint32(p + 16, s.length, true);
    p += 20;
    for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
    dv.setFloat64(p, f, true);
    p += 8;
  };
  const plainLog = () => {
    if (p + 12 > 65536) flush();
    dv.setUint32(p, 2, true);
    dv.setFloat64(p + 4, performance.now(), true);
    p += 12;
  };
  const p0 = processCpu();
  const s0 = sched();
  const t0 = process.hrtime.bigint();
  if (msg === 'fmt') for (let i = 0; i < n; i++) fmtLog(i, NAMES[i & 7], i * 1.1);
  else for (let i = 0; i < n; i++) plainLog();
  const t1 = process.hrtime.bigint();
  flush();
  fs.closeSync(fd);
  return timing(s0, t0, t1, p0);
}

async function pinoRun(file, n, sync) {
  fresh(file);
  const dest = pino.destination(
    sync ? { dest: file, sync: true } : { dest: file, sync: false, minLength: 4096 },
  );
  if (!sync) await once(dest, 'ready');
  const log = pino(dest);
  const p0 = processCpu();
  const s0 = sched();
  const t0 = process.hrtime.bigint();
  loop(log, n, 1);
  const t1 = process.hrtime.bigint();
  dest.end();
  await once(dest, 'close');
  return timing(s0, t0, t1, p0);
}

async function write() {
  const mode = variant === 'binlog-m2' ? 2 : 1;
  if (mode === 2) {
    registerDictionary(
      makeDictionary([
        { id: 1, fmt: FMT, file: 'bench/one.js', line: 1 },
        { id: 2, fmt: PLAIN, file: 'bench/one.js', line: 2 },
      ]),
    );
    // what a rewritten call passes: log.info(__binlogFormats[1], ...) (never a number: that is a message)
    F1 = globalThis.__binlogFormats[1];
    F2 = globalThis.__binlogFormats[2];
  }
  const run = (file, n) =>
    variant === 'proto'
      ? protoRun(file, n)
      : variant.startsWith('binlog')
        ? binlogRun(file, n, mode)
        : pinoRun(file, n, variant === 'pino-sync');
  await run(join(dir, `${variant}-${msg}-warm.log`), Math.min(200_000, N));
  fs.rmSync(join(dir, `${variant}-${msg}-warm.log`));
  // a pause after the warm-up (for every variant): lets pino's async destination settle and binlog's
  // coarse clock thread start, which can take a few hundred ms on a loaded machine
  await new Promise((r) => setTimeout(r, 500));
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const file = join(dir, `${variant}-${msg}.log`);
  const t = await run(file, N);
  gc();
  const heapGrowthMB = (process.memoryUsage().heapUsed - heap0) / 1048576;
  const bytes = fs.statSync(file).size;
  fs.rmSync(file);
  return {
    nsPerCall: t.total / N,
    cpuNsPerCall: t.cpu / N,
    processCpuNsPerCall: t.cpuAll / N,
    waitFraction: t.wait / t.total,
    nsLoop: t.loop / N,
    bytesPerRecord: bytes / N,
    heapGrowthMB,
  };
}

async function decode() {
  const file = join(dir, `${variant}-src.log`);
  if (variant.startsWith('decode-binlog')) binlogRun(file, N, 1);
  else await pinoRun(file, N, true);
  const buf = fs.readFileSync(file);
  gc();
  let chars = 0;
  let records = 0;
  const s0 = sched();
  const t0 = process.hrtime.bigint();
  if (variant.startsWith('decode-binlog')) {
    const text = variant === 'decode-binlog-text';
    const lf = new LineFormatter();
    const r = new LogReader({});
    r.feed(buf, (e) => {
      chars += text ? lf.text(e).length : e.args.length + e.level;
      records++;
    });
    r.end();
  } else {
    const text = buf.toString('utf8');
    const lf = new LineFormatter();
    const lines = variant === 'decode-pino-text';
    let p = 0;
    for (;;) {
      const q = text.indexOf('\n', p);
      if (q < 0) break;
      const o = JSON.parse(text.slice(p, q));
      chars += lines ? `${lf.iso(o.time)} ${LEVELS[o.level]} ${o.msg}`.length : o.msg.length;
      records++;
      p = q + 1;
    }
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const s1 = sched();
  if (records !== N) throw new Error(`decoded ${records} records, expected ${N}`);
  const cpu = s1[0] - s0[0];
  return {
    recordsPerSec: (records * 1e9) / ns,
    cpuRecordsPerSec: (records * 1e9) / cpu,
    waitFraction: (s1[1] - s0[1]) / ns,
    nsPerRecord: ns / records,
    chars,
  };
}

const result = variant.startsWith('decode') ? await decode() : await write();
process.stdout.write(`${JSON.stringify({ variant, msg, calls: N, ...result })}\n`);
