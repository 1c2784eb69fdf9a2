import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDictionary } from '../codec/dictionary.js';
import { formatDiagnostic } from './diagnostic.js';
import { precompileJsDir } from './emitted-js.js';
import { copyProject } from './test-project.js';

test('rewrites .mjs and .cjs files as text, keeping every line where it was', () => {
  const dir = copyProject('js');
  const dictPath = join(dir, 'binlog.dict.json');
  const r = precompileJsDir({ inDir: join(dir, 'lib'), outDir: join(dir, 'out'), dictPath });
  assert.deepEqual(
    r.diagnostics.map((d) => formatDiagnostic(d)),
    [],
  );
  const dict = parseDictionary(readFileSync(dictPath, 'utf8'));
  assert.deepEqual(
    dict.formats.map((f) => [f.fmt, f.file, f.line]),
    [
      ['paid %d cents', 'app.mjs', 6],
      ['hello\n%s', 'app.mjs', 12],
      ['untyped %s', 'app.mjs', 20],
      ['legacy %d of %d', 'sub/legacy.cjs', 4],
    ],
  );
  const inApp = readFileSync(join(dir, 'lib/app.mjs'), 'utf8');
  const app = readFileSync(join(dir, 'out/app.mjs'), 'utf8');
  assert.equal(app.split('\n').length, inApp.split('\n').length);
  const lines = app.split('\n');
  assert.equal(lines[0], '#!/usr/bin/env node');
  assert.equal(lines[1], 'import "./binlog-dict.js"; import { log } from \'./log.mjs\';');
  assert.equal(lines[5], '  log.info(__binlogFormats[1], cents);');
  assert.deepEqual(lines.slice(10, 14), ['  log.info(', '    __binlogFormats[2]', ',', '    who,']);
  assert.ok(app.includes("log.info(process.argv[2] ?? 'not %s literal', 'x');"));
  const legacy = readFileSync(join(dir, 'out/sub/legacy.cjs'), 'utf8');
  assert.equal(legacy.split('\n')[0], '\'use strict\'; require("../binlog-dict.js");');
  assert.ok(legacy.includes('log.error(__binlogFormats[4], 1, 2);'));
  assert.equal(
    readFileSync(join(dir, 'out/log.mjs'), 'utf8'),
    readFileSync(join(dir, 'lib/log.mjs'), 'utf8'),
  );
  assert.ok(existsSync(join(dir, 'out/data.json')));
  assert.match(readFileSync(join(dir, 'out/binlog-dict.js'), 'utf8'), /from 'binlog'/);
  const syntax = spawnSync(process.execPath, ['--check', join(dir, 'out/app.mjs')], { encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);
});

test('a second pass in place over its own output changes nothing', () => {
  const dir = copyProject('js');
  const dictPath = join(dir, 'binlog.dict.json');
  const out = join(dir, 'out');
  precompileJsDir({ inDir: join(dir, 'lib'), outDir: out, dictPath });
  const before = readFileSync(join(out, 'app.mjs'), 'utf8');
  const dict = readFileSync(dictPath, 'utf8');
  const r = precompileJsDir({ inDir: out, outDir: out, dictPath });
  assert.equal(r.callCount, 0);
  assert.equal(readFileSync(join(out, 'app.mjs'), 'utf8'), before);
  assert.equal(readFileSync(dictPath, 'utf8'), dict);
});

test('JavaScript: counts are always checked, types where JSDoc gives them', () => {
  const dir = copyProject('js-bad');
  const r = precompileJsDir({ inDir: dir, outDir: join(dir, 'out'), dictPath: join(dir, 'd.json') });
  assert.deepEqual(
    r.diagnostics.map((d) => formatDiagnostic(d, dir)),
    [
      'bad.mjs:5:10: format "two %s %s" has 2 specifiers but info() is given 1 argument after it',
      `bad.mjs:6:18: argument 1 for '%d' in "n=%d" must be number | bigint, got string`,
    ],
  );
  assert.ok(!existsSync(join(dir, 'out')));
  assert.ok(!existsSync(join(dir, 'd.json')));
});

test('JavaScript with a syntax error is refused with its position', () => {
  const dir = copyProject('js-bad');
  writeFileSync(join(dir, 'broken.js'), "const log = { info() {} };\nlog.info('x %d', 1;\n");
  const r = precompileJsDir({
    inDir: dir,
    outDir: join(dir, 'out'),
    dictPath: join(dir, 'd.json'),
    checkTypes: false,
  });
  const lines = r.diagnostics.map((d) => formatDiagnostic(d, dir));
  assert.match(lines[0] ?? '', /^broken\.js:2:19: TS1005: /);
  assert.ok(!existsSync(join(dir, 'out')));
});
