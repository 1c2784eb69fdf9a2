// pino's call shapes and options, as a team moving from pino uses them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type DecodedEvent, decodeFile, LineFormatter } from '../decode/index.js';
import { LoggerError } from './errors.js';
import { CANDIDATE_SLOTS } from './format-table.js';
import { createLogger } from './logger.js';
import { stdSerializers } from './serializers.js';

const dir = mkdtempSync(join(tmpdir(), 'binlog-pino-'));
let n = 0;
const file = (): string => join(dir, `p${n++}.blog`);
const json = (e: DecodedEvent): Record<string, unknown> => JSON.parse(new LineFormatter().json(e));

test('(obj, fmt, ...args) merges the keys and applies the format; obj alone; a number first is a message', () => {
  const f = file();
  const log = createLogger({ dest: f, fields: { svc: 'api' } });
  log.info({ a: 1, user: { id: 7 } }, 'msg %s paid %d', 'bob', 5);
  log.info({ only: true });
  log.info(12345);
  log.info(12345, 'and more');
  log.child({ req: 3 }).warn({ ms: 1532 }, 'slow');
  log.close();
  const ev = decodeFile(f).events;
  assert.deepEqual(
    ev.map((e) => [e.msg, JSON.parse(e.fields ?? '{}')]),
    [
      ['msg bob paid 5', { svc: 'api', a: 1, user: { id: 7 } }],
      ['', { svc: 'api', only: true }],
      ['12345', { svc: 'api' }],
      ['12345 and more', { svc: 'api' }],
      ['slow', { svc: 'api', req: 3, ms: 1532 }],
    ],
  );
  assert.deepEqual(json(ev[0]!), {
    level: 30,
    time: json(ev[0]!).time,
    pid: process.pid,
    svc: 'api',
    a: 1,
    user: { id: 7 },
    msg: 'msg bob paid 5',
  });
});

test('undefined first, as pino: the next argument is the message; alone, no message', () => {
  const f = file();
  const log = createLogger({ dest: f });
  log.info(undefined, 'b %s', 'c');
  log.info(undefined, 'n=%d', 5);
  log.info(undefined);
  log.close();
  assert.deepEqual(
    decodeFile(f).events.map((e) => e.msg),
    ['b c', 'n=5', ''],
  );
});

test('fields of any member count round-trip (a count past 127 takes a longer varint)', () => {
  const f = file();
  const log = createLogger({ dest: f });
  const sizes = [1, 127, 128, 300, 20_000];
  const objs = sizes.map((k) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < k; i++) o[`k${i}`] = i % 3 === 0 ? `v${i}` : i;
    o.skipped = undefined;
    return o;
  });
  for (const o of objs) log.info({ top: 1, nested: o }, 'n');
  log.close();
  const ev = decodeFile(f).events;
  assert.deepEqual(
    ev.map((e) => JSON.parse(e.fields ?? '{}')),
    objs.map((o) => JSON.parse(JSON.stringify({ top: 1, nested: o }))),
  );
});

test('error(err) and {err}: type, message, stack, cause and own properties, as pino err', () => {
  const f = file();
  const log = createLogger({ dest: f });
  const root = new Error('disk full');
  const err = Object.assign(new TypeError('write failed', { cause: root }), { code: 'EIO', attempt: 3 });
  log.error(err);
  log.error({ err, req: 9 }, 'request %d failed', 9);
  log.error(new Error('plain'), 'with %s', 'message');
  log.close();
  const ev = decodeFile(f).events;
  const e0 = json(ev[0]!).err as Record<string, unknown>;
  assert.equal(ev[0]!.msg, 'write failed');
  assert.equal(e0.type, 'TypeError');
  assert.equal(e0.message, 'write failed: disk full');
  assert.equal(e0.code, 'EIO');
  assert.equal(e0.attempt, 3);
  assert.match(e0.stack as string, /^TypeError: write failed\n {4}at .*pino-shapes\.test\.js/);
  assert.match(e0.stack as string, /\ncaused by: Error: disk full\n/);
  assert.deepEqual((e0.cause as Record<string, unknown>).message, 'disk full');
  const j1 = json(ev[1]!);
  assert.equal(ev[1]!.msg, 'request 9 failed');
  assert.equal(j1.req, 9);
  assert.equal((j1.err as Record<string, unknown>).type, 'TypeError');
  assert.equal(ev[2]!.msg, 'with message');
  assert.equal((json(ev[2]!).err as Record<string, unknown>).message, 'plain');
});

test('error(err) written from the error (error-record.ts) decodes as the general path writes { err }', () => {
  const f = file();
  const log = createLogger({ dest: f, bufferSize: 4096 });
  class QueryError extends Error {}
  const self = Object.assign(new Error('self'), { code: 'E1' });
  (self as unknown as { me: unknown }).me = self;
  const errors: Error[] = [
    new Error('plain'),
    Object.assign(new RangeError('with props'), { code: 'E_X', n: 3, meta: { a: [1, 2], b: { c: 'd' } } }),
    Object.assign(new QueryError('x'.repeat(300)), { sql: 'SELECT 1'.repeat(20), skip: undefined }),
    self,
    new Error('with cause', { cause: new Error('root') }), // the general path (NOT_PLAIN)
    Object.assign(new Error('nested'), { inner: new TypeError('inner') }), // the general path
    new Error(''),
  ];
  const e = errors[1]!;
  e.stack = 'RangeError: with props\n    at a long enough stack line that repeats in this write';
  // each error several times (stacks become repeated strings), through a few 4 KiB frames and writes
  for (let i = 0; i < 60; i++) {
    const err = errors[i % errors.length]!;
    log.error(err);
    log.error({ err });
  }
  log.close();
  const ev = decodeFile(f).events;
  assert.equal(ev.length, 120);
  for (let i = 0; i < ev.length; i += 2) {
    const a = json(ev[i]!);
    const b = json(ev[i + 1]!);
    assert.equal(ev[i]!.msg, ev[i + 1]!.msg);
    assert.deepEqual({ ...a, time: 0 }, { ...b, time: 0 });
  }
  const j = json(ev[2]!).err as Record<string, unknown>;
  assert.deepEqual([j.type, j.code, j.n, j.meta], ['RangeError', 'E_X', 3, { a: [1, 2], b: { c: 'd' } }]);
  assert.equal((json(ev[4]!).err as Record<string, unknown>).type, 'QueryError');
});

test('level: get and set at run time, levelVal, isLevelEnabled, child(bindings, { level })', () => {
  const f = file();
  const log = createLogger({ dest: f });
  assert.equal(log.level, 'info');
  log.debug('dropped 1');
  log.level = 'warn';
  assert.equal(log.levelVal, 40);
  assert.equal(log.isLevelEnabled('info'), false);
  assert.equal(log.isLevelEnabled('error'), true);
  assert.equal(log.isLevelEnabled('nope'), false);
  log.info('dropped 2');
  log.warn('kept 1');
  const c = log.child({ c: 1 }, { level: 'debug' });
  assert.equal(c.level, 'debug');
  c.debug('kept 2');
  assert.throws(() => {
    log.level = 'loud';
  }, LoggerError);
  assert.throws(() => log.child({}, { msgPrefix: 'x' } as never), LoggerError);
  log.level = 'silent';
  log.fatal('dropped 3');
  assert.equal(log.isLevelEnabled('fatal'), false);
  log.close();
  assert.deepEqual(
    decodeFile(f).events.map((e) => e.msg),
    ['kept 1', 'kept 2'],
  );
});

test('redact: dotted paths, brackets, wildcards, censor, remove; bindings too; the logged object is not changed', () => {
  const f = file();
  const log = createLogger({
    dest: f,
    redact: {
      paths: ['password', 'user.token', 'headers["x-api-key"]', '*.secret', 'list[*].pin'],
      censor: '***',
    },
  });
  const obj = {
    password: 'p4ss',
    user: { name: 'bob', token: 't0k' },
    headers: { 'x-api-key': 'k', host: 'h' },
    a: { secret: 's', ok: 1 },
    list: [{ pin: 1 }, { pin: 2, x: 3 }],
  };
  log.info(obj, 'login');
  log.child({ password: 'child-pass' }).info('child');
  const removing = createLogger({ dest: file(), redact: { paths: ['password'], remove: true } });
  assert.equal(obj.password, 'p4ss');
  assert.equal(obj.user.token, 't0k');
  log.close();
  removing.close();
  const ev = decodeFile(f).events;
  assert.deepEqual(JSON.parse(ev[0]!.fields!), {
    password: '***',
    user: { name: 'bob', token: '***' },
    headers: { 'x-api-key': '***', host: 'h' },
    a: { secret: '***', ok: 1 },
    list: [{ pin: '***' }, { pin: '***', x: 3 }],
  });
  assert.deepEqual(JSON.parse(ev[1]!.fields!), { password: '***' });
  assert.ok(!ev.some((e) => (e.fields ?? '').includes('p4ss') || (e.fields ?? '').includes('child-pass')));
  const g = file();
  const l2 = createLogger({ dest: g, redact: ['password'] });
  l2.info({ password: 'x', keep: 1 });
  l2.close();
  assert.deepEqual(JSON.parse(decodeFile(g).events[0]!.fields!), { password: '[Redacted]', keep: 1 });
  const h = file();
  const l3 = createLogger({ dest: h, redact: { paths: ['password'], remove: true } });
  l3.info({ password: 'x', keep: 1 });
  l3.close();
  assert.deepEqual(JSON.parse(decodeFile(h).events[0]!.fields!), { keep: 1 });
  assert.throws(() => createLogger({ dest: file(), redact: ['a..b'] }), LoggerError);
});

test('serializers (req, res, custom), mixin, base, name', () => {
  const f = file();
  let calls = 0;
  const log = createLogger({
    dest: f,
    base: { svc: 'api' },
    name: 'web',
    serializers: { req: stdSerializers.req, res: stdSerializers.res, user: (u) => (u as { id: number }).id },
    mixin: (_obj, level) => ({ seq: ++calls, lvl: level }),
  });
  const req = {
    method: 'GET',
    url: '/a',
    headers: { host: 'h' },
    socket: { remoteAddress: '::1', remotePort: 5 },
    body: 'secret',
  };
  const res = { statusCode: 200, headersSent: true, getHeaders: () => ({ 'content-type': 'x' }) };
  log.info({ req, res, user: { id: 7, name: 'bob' } }, 'done');
  log.info('plain');
  log.close();
  const ev = decodeFile(f).events;
  const j0 = json(ev[0]!);
  assert.deepEqual(j0.req, {
    method: 'GET',
    url: '/a',
    headers: { host: 'h' },
    remoteAddress: '::1',
    remotePort: 5,
  });
  assert.deepEqual(j0.res, { statusCode: 200, headers: { 'content-type': 'x' } });
  assert.equal(j0.user, 7);
  assert.equal(j0.svc, 'api');
  assert.equal(j0.name, 'web');
  assert.deepEqual([j0.seq, j0.lvl], [1, 30]);
  assert.deepEqual([json(ev[1]!).seq, ev[1]!.msg], [2, 'plain']);
});

test('custom levels (methods, numbers recorded, level names), useOnlyCustomLevels', () => {
  const f = file();
  const log = createLogger({ dest: f, customLevels: { audit: 35, notice: 38 }, level: 'audit' });
  log.audit('who %s', 'bob');
  log.notice({ k: 1 }, 'n');
  log.info('below');
  log.warn('above');
  assert.equal(log.level, 'audit');
  assert.equal(log.levels.values.notice, 38);
  log.level = 'notice';
  log.audit('dropped');
  log.close();
  assert.deepEqual(
    decodeFile(f).events.map((e) => [e.level, e.msg]),
    [
      [35, 'who bob'],
      [38, 'n'],
      [40, 'above'],
    ],
  );
  const g = file();
  const only = createLogger({
    dest: g,
    customLevels: { low: 5, high: 70 },
    useOnlyCustomLevels: true,
    level: 'low',
  });
  only.low('l');
  only.high('h');
  only.info('no such level here');
  only.close();
  assert.deepEqual(
    decodeFile(g).events.map((e) => [e.level, e.msg]),
    [
      [5, 'l'],
      [70, 'h'],
    ],
  );
  assert.throws(
    () => createLogger({ dest: file(), customLevels: { x: 1 }, useOnlyCustomLevels: true }),
    LoggerError,
  );
  assert.throws(() => createLogger({ dest: file(), customLevels: { info: 31 } }), LoggerError);
});

test('options binlog does not implement are refused, not ignored', () => {
  for (const k of ['transport', 'formatters', 'msgPrefix', 'timestamp', 'hooks', 'messageKey', 'nestedKey']) {
    assert.throws(
      () => createLogger({ dest: file(), [k]: {} } as never),
      (e: unknown) => e instanceof LoggerError && e.code === 'BAD_OPTION' && e.message.includes(k),
      k,
    );
  }
});

test('dynamic messages: a text is interned only once it repeats; distinct texts keep no format', () => {
  const f = file();
  const log = createLogger({ dest: f });
  const N = 3 * CANDIDATE_SLOTS;
  for (let i = 0; i < N; i++) log.info(`user ${i} paid`);
  for (let i = 0; i < 3; i++) log.info('constant %d', i);
  log.info(`100% of ${N} with a %d`, 7);
  log.close();
  const ev = decodeFile(f).events;
  assert.equal(ev.length, N + 4);
  assert.ok(ev.slice(0, N).every((e, i) => e.id === 0 && e.msg === `user ${i} paid`));
  assert.deepEqual(
    ev.slice(N).map((e) => [e.id === 0, e.msg]),
    [
      [true, 'constant 0'],
      [false, 'constant 1'],
      [false, 'constant 2'],
      [true, `100% of ${N} with a %d 7`], // `% ` is no specifier: literal text, arguments appended
    ],
  );
});

test('--disallow-code-generation-from-strings: the logger and the decoder still work (generic writers)', () => {
  const script = join(dir, 'nocodegen.mjs');
  const index = pathToFileURL(join(import.meta.dirname, '..', 'index.js')).href;
  const decode = pathToFileURL(join(import.meta.dirname, '..', 'decode', 'index.js')).href;
  writeFileSync(
    script,
    `import { createLogger, makeDictionary, registerDictionary, formatId } from ${JSON.stringify(index)};
import { decodeFile } from ${JSON.stringify(decode)};
let blocked = false;
try { new Function('return 1'); } catch { blocked = true; }
const f = process.argv[2];
const dict = makeDictionary([{ id: 1, fmt: 'c %d %s %f %j', file: 'a.ts', line: 1 }]);
registerDictionary(dict);
const log = createLogger({ dest: f });
for (let i = 0; i < 3; i++) log.info('n=%d s=%s f=%f', i, 'x', 0.5);
log.info(formatId(1), 1, 'two', 3.5, { k: 4 });
log.info({ a: 1 }, 'obj');
log.close();
console.log(JSON.stringify({ blocked, msgs: decodeFile(f, { dictionary: dict }).events.map((e) => e.msg) }));
`,
  );
  const r = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', script, file()], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    blocked: true,
    msgs: ['n=0 s=x f=0.5', 'n=1 s=x f=0.5', 'n=2 s=x f=0.5', 'c 1 two 3.5 {"k":4}', 'obj'],
  });
});
