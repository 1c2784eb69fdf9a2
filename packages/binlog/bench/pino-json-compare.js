// The same calls logged to pino (sync destination) and to binlog, then `binlog decode --json`; prints
// the parsed lines that differ (time, pid and hostname left out) and how many are identical.
// usage: npm run build && node bench/pino-json-compare.js
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import pino from 'pino';
import { createLogger, stdSerializers } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const dir = fs.mkdtempSync(join(tmpdir(), 'binlog-pino-json-'));
const plog = join(dir, 'p.log');
const blog = join(dir, 'b.blog');
const common = {
  redact: { paths: ['password', 'user.token', 'headers["x-api-key"]', '*.secret', 'list[*].pin'] },
  serializers: { req: pino.stdSerializers.req, res: pino.stdSerializers.res },
  mixin: (_o, lvl) => ({ mix: lvl }),
  base: { svc: 'api' },
  customLevels: { audit: 35 },
};
const p = pino({ ...common, timestamp: false }, pino.destination({ dest: plog, sync: true }));
const b = createLogger({
  ...common,
  serializers: { req: stdSerializers.req, res: stdSerializers.res },
  dest: blog,
});
class MyErr extends Error {
  constructor(m, o) {
    super(m, o);
    this.name = 'MyErr';
    this.code = 'E_X';
    this.extra = { n: 1 };
  }
}
const cause = new TypeError('root cause');
const err = new MyErr('boom', { cause });
const agg = new AggregateError([new Error('a1'), new RangeError('a2')], 'many');
const req = {
  method: 'GET',
  url: '/x?y=1',
  headers: { host: 'h', 'x-api-key': 'k' },
  socket: { remoteAddress: '1.2.3.4', remotePort: 5 },
  id: 7,
};
const res = { statusCode: 200, getHeaders: () => ({ 'content-type': 'text/plain' }), headers: {} };
const calls = [
  (l) => l.info('plain'),
  (l) => l.info('user %s paid %d cents in %f s', 'bob', 1200, 0.35),
  (l) => l.info({ a: 1, nested: { b: [1, 2], c: 'x' } }, 'msg %s', 'X'),
  (l) => l.info({ a: 1 }),
  (l) => l.info({ a: 1 }, 'extra %s', 'x', 'y', 3),
  (l) => l.error(err),
  (l) => l.error({ err }, 'failed %d', 9),
  (l) => l.error(err, 'with msg'),
  (l) => l.error(agg),
  (l) => l.info(12345),
  (l) => l.info(12345, 'fmt?'),
  (l) =>
    l.info(
      {
        password: 'pw',
        user: { token: 't', name: 'n' },
        headers: { 'x-api-key': 'k' },
        o: { secret: 's' },
        list: [{ pin: 1 }, { pin: 2 }],
      },
      'redacted',
    ),
  (l) => l.info({ req, res }, 'http'),
  (l) => l.audit('custom level %d', 1),
  (l) => l.info(`dyn ${'abc'} fixed`),
  (l) => l.info('with %j and %o', { j: 1 }, { o: [2] }),
  (l) => l.info('lit %% and %d%%', 5),
  (l) => l.info({ msg: 'inner' }),
  (l) => l.info(null),
  (l) => l.info(undefined, 'x'),
  (l) => l.info(true),
  (l) => l.info(['arr', 1], 'arr first'),
  (l) => l.info('nl\nin\x07msg'),
  (l) => l.child({ c: 1 }).info({ d: 2 }, 'child'),
  (l) => l.child({ c: 1 }, { level: 'warn' }).info('child below level'),
  (l) => l.child({ c: 1 }, { level: 'warn' }).warn('child at level'),
  (l) => {
    l.level = 'error';
    l.warn('hidden');
    l.error('shown');
    l.level = 'info';
  },
  (l) => l.info({ big: 10n }, 'bigint'),
  (l) => l.info({ u: undefined, f: () => 1, s: Symbol('q') }, 'odd'),
  (l) => l.info({ date: new Date(0) }, 'date'),
  (l) => l.info({ time: 5, level: 'x', pid: 1 }, 'reserved keys'),
];
for (const c of calls) {
  c(p);
  c(b);
}
p.flush?.();
b.close();
const strip = (o) => {
  delete o.time;
  delete o.pid;
  delete o.hostname;
  return o;
};
const pinoLines = fs
  .readFileSync(plog, 'utf8')
  .trim()
  .split('\n')
  .map((l) => strip(JSON.parse(l)));
const out = execFileSync(process.execPath, [join(here, '../bin/binlog.js'), 'decode', '--json', blog], {
  encoding: 'utf8',
});
const binlogLines = out
  .trim()
  .split('\n')
  .map((l) => strip(JSON.parse(l)));
let differ = 0;
for (let i = 0; i < Math.max(pinoLines.length, binlogLines.length); i++) {
  if (isDeepStrictEqual(pinoLines[i], binlogLines[i])) continue;
  differ++;
  console.log(`#${i}\n  pino   ${JSON.stringify(pinoLines[i])}\n  binlog ${JSON.stringify(binlogLines[i])}`);
}
console.log(
  `${calls.length} calls, ${pinoLines.length} pino lines, ${binlogLines.length} binlog lines: ${pinoLines.length - differ} identical, ${differ} differ`,
);
fs.rmSync(dir, { recursive: true });
