import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { JsonArg } from '../codec/index.js';
import { decodeFile } from '../decode/index.js';
import { LoggerError } from './errors.js';
import { createLogger } from './logger.js';

const dir = mkdtempSync(join(tmpdir(), 'binlog-logger-'));
let n = 0;
const file = (): string => join(dir, `t${n++}.blog`);

test('every specifier renders; values round-trip exactly', () => {
  const f = file();
  const log = createLogger({ dest: f, level: 'trace' });
  const cyc: Record<string, unknown> = { k: 'v' };
  cyc.me = cyc;
  log.info('d=%d i=%i u=%u f=%f s=%s x=%x o=%o j=%j 100%%', 42, -7, 3000000000, 0.35, 'bob', 255, { a: 1 }, [
    1,
    'two',
  ]);
  log.info(
    '%d %d %d %d %d %d',
    Number.NaN,
    -0,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    2 ** 53 + 2,
    1.5,
  );
  log.info('%d %i %x %s', 2n ** 70n, -(2n ** 64n), 255n, 12345678901234567890n);
  log.info('[%s] [%s] [%s] [%s]', '', 'héllo 日本 😀', 'lone \ud800 surrogate', 'x'.repeat(300));
  log.info('%s %s %j %j', null, undefined, null, undefined);
  log.info('cycle %j', cyc);
  log.close();
  const { events, stats } = decodeFile(f);
  assert.equal(stats.skippedBytes, 0);
  const msgs = events.map((e) => e.msg);
  assert.equal(msgs[0], 'd=42 i=-7 u=3000000000 f=0.35 s=bob x=ff o={"a":1} j=[1,"two"] 100%');
  assert.equal(msgs[1], 'NaN -0 Infinity -Infinity 9007199254740994 1.5');
  assert.equal(msgs[2], `${2n ** 70n} ${-(2n ** 64n)} ff 12345678901234567890`);
  assert.equal(msgs[3], `[] [héllo 日本 😀] [lone \ufffd surrogate] [${'x'.repeat(300)}]`);
  assert.equal(msgs[4], 'null undefined null undefined');
  assert.equal(msgs[5], 'cycle {"k":"v","me":"[Circular]"}');
  const a = events[1]!.args;
  assert.ok(
    Number.isNaN(a[0]) && Object.is(a[1], -0) && a[2] === Number.POSITIVE_INFINITY && a[4] === 2 ** 53 + 2,
  );
  assert.deepEqual(events[2]!.args, [2n ** 70n, -(2n ** 64n), 255n, 12345678901234567890n]);
  assert.ok(events[0]!.args[6] instanceof JsonArg);
});

test('extra arguments are appended; missing ones leave the specifier; non-string first arguments', () => {
  const f = file();
  const log = createLogger({ dest: f });
  log.info('a %s', 'x', 'extra', 5, { o: 1 });
  log.info('b %s and %d', 'only');
  log.info({ obj: true } as unknown as string, 'tail');
  log.info('many %d', 1, 2, 3, 4, 5, 6, 7, 8, 9);
  log.info('bad %q spec %d', 5);
  log.close();
  assert.deepEqual(
    decodeFile(f).events.map((e) => e.msg),
    ['a x extra 5 {"o":1}', 'b only and %d', 'tail', 'many 1 2 3 4 5 6 7 8 9', 'bad %q spec %d 5'],
  );
});

test('levels filter at the call; pino numbers are recorded', () => {
  const f = file();
  const log = createLogger({ dest: f, level: 'warn' });
  log.trace('t');
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  log.fatal('f');
  assert.equal(log.isLevelEnabled('info'), false);
  assert.equal(log.isLevelEnabled('error'), true);
  log.close();
  assert.deepEqual(
    decodeFile(f).events.map((e) => [e.level, e.msg]),
    [
      [40, 'w'],
      [50, 'e'],
      [60, 'f'],
    ],
  );
  const all = file();
  const l2 = createLogger({ dest: all, level: 'trace' });
  for (const m of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) l2[m](m);
  l2.close();
  assert.deepEqual(
    decodeFile(all).events.map((e) => e.level),
    [10, 20, 30, 40, 50, 60],
  );
});

test('fields and children: merged, nested, shared file; timestamps are wall time', () => {
  const f = file();
  const before = Date.now();
  const log = createLogger({ dest: f, fields: { svc: 'api' } });
  const child = log.child({ req: 7 });
  const grand = child.child({ user: 'bob', req: 8 });
  log.info('root');
  child.info('child %d', 1);
  grand.warn('grand');
  log.child({}).info('empty child');
  child.close(); // a child only flushes
  log.info('after child close');
  log.close();
  const after = Date.now();
  const ev = decodeFile(f).events;
  assert.deepEqual(
    ev.map((e) => [e.msg, e.fields === null ? null : JSON.parse(e.fields)]),
    [
      ['root', { svc: 'api' }],
      ['child 1', { svc: 'api', req: 7 }],
      ['grand', { svc: 'api', req: 8, user: 'bob' }],
      ['empty child', { svc: 'api' }],
      ['after child close', { svc: 'api' }],
    ],
  );
  for (const e of ev)
    assert.ok(e.time >= before - 5 && e.time <= after + 5, `time ${e.time} in [${before}, ${after}]`);
  for (let i = 1; i < ev.length; i++) assert.ok(ev[i]!.time >= ev[i - 1]!.time);
});

test('options are checked when the logger is built', () => {
  const bad: unknown[] = [
    {},
    { dest: '' },
    { dest: -1 },
    { dest: file(), level: 'loud' },
    { dest: file(), onOverload: 'never' },
    { dest: 1, rotate: { size: 1000 } },
    { dest: file(), rotate: { keep: 3 } },
    { dest: file(), rotate: { size: -1 } },
    { dest: file(), bufferSize: 100 },
    { dest: file(), fields: 'x' },
    { dest: file(), clock: 'atomic' },
    { dest: join(dir, 'no/such/dir/x.blog') },
  ];
  for (const o of bad) {
    assert.throws(
      () => createLogger(o as Parameters<typeof createLogger>[0]),
      (e: unknown) => e instanceof LoggerError && (e.code === 'BAD_OPTION' || e.code === 'OPEN_FAILED'),
      JSON.stringify(o),
    );
  }
});

test('log calls never throw: hostile arguments, closed logger', () => {
  const f = file();
  const log = createLogger({ dest: f });
  const hostile = {
    get x() {
      throw new Error('getter');
    },
  };
  const proxy = new Proxy(
    {},
    {
      ownKeys() {
        throw new Error('trap');
      },
    },
  );
  log.info('h %j %s %o', hostile, proxy, Symbol('s'));
  log.info(undefined as unknown as string);
  log.info(Number.NaN);
  log.close();
  log.close();
  log.info('after close %d', 1);
  assert.equal(log.dropped, 1);
  const ev = decodeFile(f).events;
  assert.equal(ev.length, 3);
  assert.equal(ev[0]!.msg, 'h "[unserializable]" "[unserializable]" "Symbol(s)"');
});

test('a fd destination is written but not closed; a string larger than the buffer gets its own frame', () => {
  const f = file();
  const log = createLogger({ dest: f, bufferSize: 4096 });
  const big = 'é'.repeat(20000);
  for (let i = 0; i < 10000; i++) log.info('n %d', i);
  log.info('big %s', big);
  log.info('end');
  log.close();
  const { events, stats } = decodeFile(f);
  assert.equal(stats.skippedBytes, 0);
  assert.equal(events.length, 10002);
  assert.equal(events[10000]!.args[0], big);
  for (let i = 1; i < events.length; i++)
    assert.ok(events[i]!.time >= events[i - 1]!.time, 'times stay ordered');
  assert.ok(Math.abs(events[10001]!.time - Date.now()) < 60000);
  assert.ok(stats.frames > 10);
  assert.ok(readFileSync(f).length > 40000);
  const g = file();
  const fd = openSync(g, 'w');
  const viaFd = createLogger({ dest: fd });
  viaFd.info('via fd %d', fd);
  viaFd.close();
  writeSync(fd, Buffer.alloc(0)); // still open: binlog does not close an fd it was given
  closeSync(fd);
  assert.deepEqual(
    decodeFile(g).events.map((e) => e.msg),
    [`via fd ${fd}`],
  );
});

test('a destination that fails (fd closed under the logger) never makes a log call throw', () => {
  const f = file();
  const fd = openSync(f, 'w');
  const log = createLogger({ dest: fd, bufferSize: 4096 });
  closeSync(fd);
  assert.doesNotThrow(() => {
    for (let i = 0; i < 5000; i++) log.info('lost %d', i);
    log.flush();
    log.close();
  });
});

test('EBADF and EPIPE: emitted as error events (next tick) and every record counted lost', async () => {
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const pipe = openSync(fifo, constants.O_WRONLY);
  const bad = openSync(file(), 'w');
  for (const [fd, code, breakIt] of [
    [bad, 'EBADF', () => closeSync(bad)], // the fd closed under the logger
    [pipe, 'EPIPE', () => closeSync(reader)], // no reader left (Node ignores SIGPIPE)
  ] as const) {
    const log = createLogger({ dest: fd, bufferSize: 4096 });
    const codes: string[] = [];
    log.on('error', (e: NodeJS.ErrnoException) => codes.push(e.code ?? ''));
    breakIt();
    for (let i = 0; i < 5000; i++) log.info('lost %d', i);
    log.flush();
    await new Promise((r) => setImmediate(r));
    const st = log.stats();
    assert.equal(st.lost, 5000, code);
    assert.equal(st.lastError, code);
    assert.ok(st.writeErrors > 0 && codes.length === st.writeErrors, code);
    assert.ok(
      codes.every((c) => c === code),
      code,
    );
    log.close();
  }
  closeSync(pipe);
});
