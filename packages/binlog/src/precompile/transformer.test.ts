import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { parseDictionary } from '../codec/dictionary.js';
import { PrecompileError } from './errors.js';
import { copyProject } from './test-project.js';
import { binlogTransformer } from './transformer.js';

/** What a build script does: parse the tsconfig, make the program, emit with the transformer. */
function programOf(dir: string): ts.Program {
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} };
  const cfg = ts.getParsedCommandLineOfConfigFile(join(dir, 'tsconfig.json'), {}, host);
  assert.ok(cfg);
  return ts.createProgram({ rootNames: cfg.fileNames, options: cfg.options });
}

test('a build script emits CommonJS through binlogTransformer: require() first, a CommonJS dictionary module', () => {
  const dir = copyProject('app');
  writeFileSync(
    join(dir, 'package.json'),
    '{ "name": "binlog-sample-cjs", "private": true, "type": "commonjs" }',
  );
  const program = programOf(dir);
  const transformer = binlogTransformer(program, { projectDir: dir });
  const r = program.emit(undefined, undefined, undefined, false, { before: [transformer] });
  assert.deepEqual(r.diagnostics, []);
  const main = readFileSync(join(dir, 'dist/main.js'), 'utf8');
  const lines = main.split('\n');
  assert.equal(lines[0], '"use strict";');
  assert.equal(
    lines.find((l) => l.includes('require(')),
    'require("./binlog-dict.js");',
  );
  const dict = parseDictionary(readFileSync(join(dir, 'binlog.dict.json'), 'utf8'));
  const paid = dict.formats.find((f) => f.fmt === 'user %s paid %d cents')?.id;
  assert.match(main, new RegExp(`log\\.info\\(__binlogFormats\\[${paid}\\], 'ann', 1250\\)`));
  const gen = readFileSync(join(dir, 'dist/binlog-dict.js'), 'utf8');
  assert.match(gen, /^require\('binlog'\)\.registerDictionary\(/m);
});

test('binlogTransformer throws BUILD_ERRORS with one file:line:col line per problem, and writes nothing', () => {
  const dir = copyProject('bad');
  const program = programOf(dir);
  assert.throws(
    () => binlogTransformer(program, { projectDir: dir }),
    (e: unknown) =>
      e instanceof PrecompileError &&
      e.code === 'BUILD_ERRORS' &&
      e.message.split('\n').length === 3 &&
      /bad\.ts:4:18: argument 1 for '%d'/.test(e.message),
  );
  assert.throws(() => readFileSync(join(dir, 'binlog.dict.json')), { code: 'ENOENT' });
});

test('files reached only through imports are rewritten with a correct relative import', () => {
  const dir = copyProject('app');
  const cfg = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8'));
  cfg.include = undefined;
  cfg.files = ['src/main.ts'];
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(cfg));
  const program = programOf(dir);
  assert.deepEqual(program.getRootFileNames(), [join(dir, 'src/main.ts')]);
  const transformer = binlogTransformer(program, {
    projectDir: dir,
    modulePath: join(dir, 'dist/gen/dict.js'),
  });
  program.emit(undefined, undefined, undefined, false, { before: [transformer] });
  assert.equal(readFileSync(join(dir, 'dist/worker.js'), 'utf8').split('\n')[0], 'import "./gen/dict.js";');
  assert.match(
    readFileSync(join(dir, 'dist/worker.js'), 'utf8'),
    /this\.log\.trace\(__binlogFormats\[7\], i, steps\)/,
  );
  assert.match(readFileSync(join(dir, 'dist/gen/dict.js'), 'utf8'), /registerDictionary/);
});
