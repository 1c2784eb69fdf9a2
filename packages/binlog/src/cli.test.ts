// The binlog command, run as a real process.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { makeDictionary } from './codec/index.js';
import { createLogger, formatId, registerDictionary } from './runtime/index.js';

const bin = join(import.meta.dirname, '..', 'bin', 'binlog.js');
const dir = mkdtempSync(join(tmpdir(), 'binlog-cli-'));
const plain = join(dir, 'plain.blog');
{
  const log = createLogger({ dest: plain, level: 'debug', fields: { svc: 'api' } });
  log.debug('debug %d', 1);
  log.info('user %s paid %d cents in %f s', 'bob', 1200, 0.35);
  log.child({ req: 7 }).warn('slow request %j', { ms: 1500 });
  log.error('failed');
  log.close();
}
const dict = makeDictionary([{ id: 1, fmt: 'compiled %s', file: 'a.ts', line: 1 }]);
const dictFile = join(dir, 'dict.json');
writeFileSync(dictFile, JSON.stringify(dict));
const otherDict = join(dir, 'other.json');
writeFileSync(otherDict, JSON.stringify(makeDictionary([{ id: 1, fmt: 'other %s', file: 'a.ts', line: 1 }])));
const compiled = join(dir, 'compiled.blog');
{
  registerDictionary(dict);
  const log = createLogger({ dest: compiled });
  log.info(formatId(1)!, 'yes');
  log.close();
}

function binlog(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('decode prints text lines', () => {
  const r = binlog('decode', plain);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines.length, 4);
  assert.match(
    lines[1]!,
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO user bob paid 1200 cents in 0\.35 s \{"svc":"api"\}$/,
  );
  assert.match(lines[2]!, / WARN slow request \{"ms":1500\} \{"svc":"api","req":7\}$/);
});

test('--json gives pino-style objects; filters', () => {
  const r = binlog('decode', plain, '--json');
  const objs = r.out
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    objs.map((o) => [o.level, o.msg, o.svc, o.req]),
    [
      [20, 'debug 1', 'api', undefined],
      [30, 'user bob paid 1200 cents in 0.35 s', 'api', undefined],
      [40, 'slow request {"ms":1500}', 'api', 7],
      [50, 'failed', 'api', undefined],
    ],
  );
  for (const o of objs)
    assert.ok(Number.isInteger(o.time) && Math.abs(o.time - Date.now()) < 600000 && o.pid > 0);
  assert.equal(binlog('decode', plain, '--level', 'warn').out.trimEnd().split('\n').length, 2);
  assert.match(binlog('decode', plain, '--grep', 'b.b').out, /^\S+ INFO user bob/);
  assert.equal(binlog('decode', plain, '--grep', 'req":7').out.trimEnd().split('\n').length, 1);
  assert.equal(binlog('decode', plain, '--since', '2999-01-01T00:00:00Z').out, '');
  assert.equal(binlog('decode', plain, '--since', '1h').out.trimEnd().split('\n').length, 4);
});

test('stats', () => {
  const r = binlog('stats', plain);
  assert.equal(r.code, 0);
  assert.match(r.out, /records\s+4/);
  const j = JSON.parse(binlog('stats', plain, '--json').out);
  assert.equal(j.records, 4);
  assert.deepEqual(j.perLevel, { debug: 1, info: 1, warn: 1, error: 1 });
  assert.equal(j.perFormat.length, 4);
  assert.equal(j.skippedBytes, 0);
});

test('dictionary logs: --dict required and checked', () => {
  assert.equal(
    binlog('decode', compiled, '--dict', dictFile).out.trimEnd().split(' ').slice(1).join(' '),
    'INFO compiled yes',
  );
  for (const args of [
    ['decode', compiled],
    ['decode', compiled, '--dict', otherDict],
    ['decode', compiled, '--dict', join(dir, 'nope.json')],
    ['decode', compiled, '--dict', plain],
  ]) {
    const r = binlog(...args);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /^binlog: [^\n]+\n$/, r.err);
  }
});

test('errors are one line and a non-zero status, never a stack', () => {
  const text = join(dir, 'text.txt');
  writeFileSync(text, 'not a log\n');
  const cases: [string[], number][] = [
    [['decode', join(dir, 'missing.blog')], 1],
    [['decode', text], 1],
    [['decode'], 2],
    [['frobnicate'], 2],
    [['decode', plain, '--level', 'loud'], 1],
    [['decode', plain, '--grep', '('], 1],
    [['decode', plain, '--nope'], 2],
  ];
  for (const [args, code] of cases) {
    const r = binlog(...args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, /^binlog: [^\n]+\n$/, `${args.join(' ')}: ${r.err}`);
    assert.doesNotMatch(r.err, /\n\s+at /);
  }
  const h = binlog('--help');
  assert.equal(h.code, 0);
  for (const w of [
    'decode',
    'tail',
    'stats',
    'precompile',
    '--dict',
    '--json',
    '--level',
    '--since',
    '--grep',
    '--follow',
  ]) {
    assert.ok(h.out.includes(w), w);
  }
});

test('4 overwritten bytes in a frame: the records around them decode, the damage is reported', () => {
  const f = join(dir, 'damaged.blog');
  const log = createLogger({ dest: f, bufferSize: 65536 });
  for (let i = 0; i < 5000; i++) log.info('record %d of %s', i, 'a real log');
  log.close();
  const b = readFileSync(f);
  b.writeUInt32BE(0xdeadbeef, b.length >> 1);
  writeFileSync(f, b);
  const r = binlog('decode', f);
  assert.equal(r.code, 3);
  const lines = r.out.trimEnd().split('\n').length;
  assert.ok(lines >= 4998, `${lines} lines`);
  const m =
    /1 frame\(s\) failed their checksum: (\d+) byte\(s\) of them skipped .*, (\d+) record\(s\) in them kept/.exec(
      r.err,
    );
  assert.ok(m, r.err);
  assert.ok(Number(m[1]) > 0 && Number(m[2]) > 50, r.err);
});

test('a corrupt file decodes what it can, warns, and exits 3', () => {
  const b = Buffer.concat([readFileSync(plain), Buffer.from('torn tail \xf5{\x10l', 'latin1')]);
  const f = join(dir, 'torn.blog');
  writeFileSync(f, b);
  const r = binlog('decode', f);
  assert.equal(r.code, 3);
  assert.equal(r.out.trimEnd().split('\n').length, 4);
  assert.match(r.err, /^binlog: warning: skipped 14 byte\(s\) in 1 place\(s\)/);
});

test('tail / decode --follow prints records appended later', async () => {
  const f = join(dir, 'live.blog');
  const log = createLogger({ dest: f, flushIntervalMs: 10 });
  log.info('first');
  log.flush();
  const child = spawn(process.execPath, [bin, 'tail', f], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const seen = new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), 10000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('first')) log.info('appended %d', 42);
      if (out.includes('appended 42')) {
        clearTimeout(t);
        resolve(true);
      }
    });
  });
  const ok = await seen;
  child.kill('SIGINT');
  await new Promise((r) => child.on('exit', r));
  log.close();
  assert.ok(ok, `tail output: ${out}`);
});

test('text output escapes control characters: one record is one line (no log forging)', () => {
  const f = join(dir, 'forge.blog');
  const log = createLogger({ dest: f });
  log.info('user %s logged in', 'bob\n2026-01-01T00:00:00.000Z INFO admin logged in\u001b[2J');
  log.close();
  const r = binlog('decode', f);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines.length, 1);
  assert.match(
    lines[0]!,
    / INFO user bob\\n2026-01-01T00:00:00\.000Z INFO admin logged in\\u001b\[2J logged in$/,
  );
  assert.equal(
    JSON.parse(binlog('decode', f, '--json').out).msg.split('\n').length,
    2,
    'JSON keeps the text',
  );
});

test('stdout as a destination: a pipe into `binlog decode -`', () => {
  const app = join(dir, 'to-stdout.mjs');
  writeFileSync(
    app,
    `import { createLogger } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'index.js')).href)};
const log = createLogger({ dest: 1 });
for (let i = 0; i < 5000; i++) log.info('to stdout %d', i);
`,
  );
  const r = spawnSync(
    'sh',
    ['-c', `'${process.execPath}' '${app}' | '${process.execPath}' '${bin}' decode -`],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 5000);
  assert.match(lines[4999]!, / INFO to stdout 4999$/);
});

test('several files decode in a row (rotated pieces, then the live file)', () => {
  const a = join(dir, 'piece-a.blog');
  const b = join(dir, 'piece-b.blog');
  for (const [f, m] of [
    [a, 'first'],
    [b, 'second'],
  ] as const) {
    const log = createLogger({ dest: f });
    log.info(m);
    log.close();
  }
  const r = binlog('decode', a, b);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(
    r.out
      .trimEnd()
      .split('\n')
      .map((l) => l.split(' ').slice(2).join(' ')),
    ['first', 'second'],
  );
});

test('a mixed log without its dictionary: the run-time records print, a warning names the dictionary', () => {
  const f = join(dir, 'mixed.blog');
  const log = createLogger({ dest: f });
  log.info('run-time %d', 1);
  log.flush();
  log.info(formatId(1)!, 'compiled');
  log.close();
  const r = binlog('decode', f);
  assert.equal(r.code, 3);
  assert.match(r.out, / INFO run-time 1\n$/);
  assert.match(r.err, new RegExp(`dictionary ${dict.hash} were skipped: pass it with --dict`));
});

test('tail waits for a missing file, follows it across rotation and re-creation (tail -F), no listener leak', async () => {
  const f = join(dir, 'later.blog');
  const child = spawn(process.execPath, [bin, 'tail', f], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const until = (s: string): Promise<boolean> =>
    new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), 10000);
      const check = (): void => {
        if (out.includes(s)) {
          clearTimeout(t);
          resolve(true);
        }
      };
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        check();
      });
      check();
    });
  for (let i = 0; i < 200 && !err.includes('waiting for'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(err, /waiting for/);
  await new Promise((r) => setTimeout(r, 1500)); // >1 s of polling a missing file (was: a listener per poll)
  const log = createLogger({ dest: f });
  log.info('created %d', 1);
  log.flush();
  assert.ok(await until('created 1'), `${out}\n${err}`);
  renameSync(f, `${f}.1`); // logrotate: rename; the logger opens a new file at its next write
  log.info('rotated %d', 2);
  log.flush();
  assert.ok(await until('rotated 2'), `${out}\n${err}`);
  unlinkSync(f);
  log.info('recreated %d', 3);
  log.flush();
  assert.ok(await until('recreated 3'), `${out}\n${err}`);
  child.kill('SIGINT');
  await new Promise((r) => child.on('exit', r));
  log.close();
  assert.match(err, /waiting for/);
  assert.doesNotMatch(err, /MaxListeners|Warning/);
});
