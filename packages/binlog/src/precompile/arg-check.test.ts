import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import ts from 'typescript';
import { analyzeProgram } from './analysis.js';

const dir = mkdtempSync(join(tmpdir(), 'binlog-argcheck-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Analyse one TypeScript file; returns the lines with errors and the number of rewritten calls. */
function analyse(
  body: string,
  checkTypes = true,
): { lines: number[]; calls: number; messages: string[]; leftAlone: string[]; mode1: string[] } {
  const file = join(dir, `case-${Math.random().toString(36).slice(2)}.ts`);
  const head = [
    'type M = (f: string | number, ...a: unknown[]) => void;',
    'declare const log: { trace: M; debug: M; info: M; warn: M; error: M; fatal: M };',
  ];
  writeFileSync(file, [...head, body].join('\n'));
  const program = ts.createProgram({
    rootNames: [file],
    options: {
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      types: [],
      noEmit: true,
    },
  });
  const a = analyzeProgram(program, { rootDir: dir, checkTypes, include: (f) => f === file });
  return {
    lines: a.diagnostics.map((d) => d.line - head.length),
    calls: a.ids.size,
    messages: a.diagnostics.map((d) => d.message),
    leftAlone: a.leftAlone.map((d) => d.message),
    mode1: a.mode1.map((d) => `${d.line - head.length}: ${d.message.slice(0, 60)}`),
  };
}

test('accepted argument types', () => {
  const r = analyse(
    [
      "enum N { A = 1 } enum S { A = 'a' } type Ms = number & { __ms: true };",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source text
      'declare const big: bigint, ms: Ms, anyv: any, tpl: `id-${number}`, xs: number[];',
      "log.info('%d %i %u %x', 1, 2n, N.A, big);",
      "log.info('%f %f', 1.5, ms);",
      "log.info('%s %s %s', 'a', S.A, tpl);",
      "log.info('%j %o %j %o', { a: 1 }, [1], null, undefined);",
      "log.info('%d %s', anyv, anyv);",
      "function g<T extends number>(t: T) { log.info('%d', t); }",
      "log.info('%d %d', ...xs);",
      "log.info('plain 100%%');",
    ].join('\n'),
  );
  assert.deepEqual(r.messages, []);
  assert.equal(r.calls, 8);
});

test('rejected argument types, one error each, on the argument', () => {
  const r = analyse(
    [
      'declare const n: number | undefined, sn: string | number, u: unknown, f: () => void, sym: symbol;',
      "log.info('%s', 42);",
      "log.info('%d', sn);",
      "log.info('%f', 3n);",
      "log.info('%d', n);",
      "log.info('%s', u);",
      "log.info('%j', f);",
      "log.info('%o', sym);",
      "log.info('%s', true);",
      "function g<T>(t: T) { log.info('%d', t); }",
    ].join('\n'),
  );
  assert.deepEqual(r.lines, [2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(r.messages[0], `argument 1 for '%s' in "%s" must be string, got number`);
});

test('argument counts, with and without types', () => {
  const body = [
    "log.info('%d');",
    "log.info('none', 1);",
    "log.warn('%s %s', 'a', 'b', 'c');",
    "declare const xs: string[]; log.info('%s', 'a', 'b', ...xs);",
    "log.info('%s %s', 'a', ...xs);",
  ].join('\n');
  assert.deepEqual(analyse(body).lines, [1, 2, 3, 4]);
  const untyped = analyse(`${body}\nlog.info('%d', 'not checked without types');`, false);
  assert.deepEqual(untyped.lines, [1, 2, 3, 4]);
});

test('foreign loggers and console are left alone; non-literal formats stay mode 1', () => {
  const pino = join(dir, 'node_modules/pino');
  mkdirSync(pino, { recursive: true });
  writeFileSync(join(pino, 'package.json'), '{ "name": "pino", "types": "index.d.ts" }');
  writeFileSync(
    join(pino, 'index.d.ts'),
    'export declare const pino: { info(msg: string, ...a: unknown[]): void };',
  );
  const r = analyse(
    [
      "import { pino } from 'pino';",
      'declare const console: { info(...a: unknown[]): void }; declare const fmt: string;',
      "pino.info('pino %d', 'x');",
      "console.info('console %d', 'x');",
      "log.info(fmt, 'x');",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source text
      "log.info(`t ${fmt}`, 'x');",
      "log['info']('element access %d', 'x');",
      "log?.info('optional chain %d', 1);",
      'class Res { error(message: string): void {} info(f: string | number, ...a: unknown[]): void {} }',
      "new Res().error('not a logger %d', 'x');",
      "new Res().info('a wrapper %d', 1);",
      'const spread = { warn(...a: unknown[]) {}, debug(...a: string[]) {} };',
      "spread.warn('rest of unknown %s', 'x');",
      "spread.debug('rest of strings %d', 'x');",
    ].join('\n'),
  );
  assert.deepEqual(r.messages, []);
  assert.equal(r.calls, 3);
  assert.deepEqual(r.leftAlone, [
    'error() left alone: its first parameter (string) cannot take an id',
    'debug() left alone: its first parameter (...string[]) cannot take an id',
  ]);
  assert.deepEqual(r.mode1, [
    '5: warning: info() stays in mode 1: its message is built at run',
    '6: warning: info() stays in mode 1: its message is built at run',
  ]);
});

test('calls left in mode 1 are warned about at file:line: dynamic messages, objects first', () => {
  const r = analyse(
    [
      'declare const id: number, err: Error, name: string;',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source text
      'log.info(`user ${id} paid`);',
      "log.warn('user ' + name);",
      "log.error(err, 'failed');",
      "log.info({ id }, 'obj');",
      "log.info('literal %d', id);",
    ].join('\n'),
  );
  assert.equal(r.calls, 1);
  assert.deepEqual(
    r.mode1.map((m) => m.slice(0, 48)),
    [
      '2: warning: info() stays in mode 1: its message ',
      '3: warning: warn() stays in mode 1: its message ',
      '4: warning: error() stays in mode 1: its first a',
      '5: warning: info() stays in mode 1: its first ar',
    ],
  );
});
