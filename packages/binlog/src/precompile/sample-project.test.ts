import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { parseDictionary } from '../codec/dictionary.js';
import { formatDiagnostic } from './diagnostic.js';
import { precompileProject } from './project.js';
import { copyProject } from './test-project.js';

function build(dir: string, extra: { prune?: boolean } = {}) {
  const r = precompileProject({ project: join(dir, 'tsconfig.json'), ...extra });
  assert.deepEqual(
    r.diagnostics.map((d) => formatDiagnostic(d)),
    [],
  );
  return parseDictionary(readFileSync(join(dir, 'binlog.dict.json'), 'utf8'));
}

function idOf(dict: { formats: readonly { id: number; fmt: string }[] }, fmt: string): number {
  const e = dict.formats.find((f) => f.fmt === fmt);
  assert.ok(e, `no dictionary entry for ${fmt}`);
  return e.id;
}

test('rewrites every literal format to its id, leaves the rest, writes the dictionary', () => {
  const dir = copyProject('app');
  const dict = build(dir);
  const main = readFileSync(join(dir, 'dist/main.js'), 'utf8');
  const worker = readFileSync(join(dir, 'dist/worker.js'), 'utf8');
  assert.equal(dict.formats.length, 8);
  for (const f of dict.formats) {
    assert.ok(!main.includes(f.fmt) && !worker.includes(f.fmt), `format left in the output: ${f.fmt}`);
  }
  assert.equal(main.split('\n')[0], 'import "./binlog-dict.js";');
  assert.equal(worker.split('\n')[0], 'import "./binlog-dict.js";');
  assert.match(
    main,
    new RegExp(`log\\.info\\(__binlogFormats\\[${idOf(dict, 'app started with %d workers')}\\], 2\\);`),
  );
  assert.match(
    main,
    new RegExp(`log\\.warn\\(__binlogFormats\\[${idOf(dict, 'disk %s is %f%% full')}\\], '/var', 93\\.5\\);`),
  );
  const paid = idOf(dict, 'user %s paid %d cents');
  assert.match(
    main,
    new RegExp(
      `log\\.info\\(__binlogFormats\\[${paid}\\], 'ann', 1250\\);\\nlog\\.info\\(__binlogFormats\\[${paid}\\], 'bob', 990n\\);`,
    ),
  );
  assert.match(main, /log\.info\(dynamic, 'stays mode 1'\);/);
  assert.match(main, /console\.info\('console is not binlog: %d', 1\);/);
  assert.match(
    worker,
    new RegExp(`this\\.log\\.trace\\(__binlogFormats\\[${idOf(dict, 'step %i of %u')}\\], i, steps\\);`),
  );
  const gen = readFileSync(join(dir, 'dist/binlog-dict.js'), 'utf8');
  assert.match(gen, /^import \{ registerDictionary \} from 'binlog';$/m);
  assert.ok(gen.includes(`"hash":"${dict.hash}"`));
  assert.deepEqual(
    dict.formats.find((f) => f.fmt === 'step %i of %u'),
    { id: 7, fmt: 'step %i of %u', file: 'src/worker.ts', line: 11 },
  );
});

test('ids stay stable across runs, when a call is added, and when one is removed', () => {
  const dir = copyProject('app');
  const first = build(dir);
  const again = build(dir);
  assert.deepEqual(again, first);
  const mainTs = join(dir, 'src/main.ts');
  const src = readFileSync(mainTs, 'utf8');
  writeFileSync(
    mainTs,
    `import { log as early } from './log.js';\nearly.info('a new first call %s', 'x');\n${src}`,
  );
  const added = build(dir);
  for (const f of first.formats) assert.equal(idOf(added, f.fmt), f.id, f.fmt);
  assert.equal(idOf(added, 'a new first call %s'), 9);
  assert.equal(added.formats.find((f) => f.fmt === 'bye')?.line, 16);
  assert.match(readFileSync(join(dir, 'dist/main.js'), 'utf8'), /early\.info\(__binlogFormats\[9\], 'x'\);/);
  writeFileSync(mainTs, src.replace("log.fatal('bye');\n", ''));
  const kept = build(dir);
  assert.equal(idOf(kept, 'bye'), idOf(first, 'bye'));
  assert.equal(kept.formats.length, 9);
  const pruned = build(dir, { prune: true });
  assert.equal(pruned.formats.length, 7);
  assert.ok(!pruned.formats.some((f) => f.fmt === 'bye' || f.fmt === 'a new first call %s'));
  for (const f of pruned.formats) assert.equal(f.id, idOf(first, f.fmt));
});

test('a type mismatch, a wrong count and an unknown specifier fail with file:line:col, writing nothing', () => {
  const dir = copyProject('bad');
  const r = precompileProject({ project: join(dir, 'tsconfig.json') });
  const lines = r.diagnostics.map((d) => formatDiagnostic(d, dir));
  assert.deepEqual(lines, [
    `src/bad.ts:4:18: argument 1 for '%d' in "n=%d" must be number | bigint, got string`,
    'src/bad.ts:5:10: format "%s and %s" has 2 specifiers but warn() is given 1 argument after it',
    `src/bad.ts:6:11: unknown specifier '%q' at offset 5 in format "rate %q"`,
  ]);
  assert.ok(!existsSync(join(dir, 'dist')));
  assert.ok(!existsSync(join(dir, 'binlog.dict.json')));
});

const binlogBin = fileURLToPath(new URL('../../bin/binlog.js', import.meta.url));

/** Run a built main.js with its log going to `blog`, then decode it; returns the decoded lines without times. */
function runAndDecode(dir: string, mainJs: string, blog: string, dict?: string): string[] {
  const env = { ...process.env, SAMPLE_LOG: blog };
  const run = spawnSync(process.execPath, [mainJs], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(run.stderr, '');
  assert.equal(run.status, 0);
  assert.equal(run.stdout, 'console is not binlog: 1\n');
  const args = [binlogBin, 'decode', blog, ...(dict ? ['--dict', dict] : [])];
  const dec = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8' });
  assert.equal(dec.status, 0, dec.stderr);
  return dec.stdout
    .trim()
    .split('\n')
    .map((l) => l.replace(/^\S+ /, ''));
}

test('the emitted program runs and its log decodes to the same text as mode 1', async () => {
  // the emitted code imports these two from the runtime: their absence is a failure, not a skip
  const runtime = (await import('binlog')) as Record<string, unknown>;
  assert.equal(typeof runtime.registerDictionary, 'function', 'binlog exports registerDictionary');
  assert.equal(typeof runtime.createLogger, 'function', 'binlog exports createLogger');
  const dir = copyProject('app');
  build(dir);
  const precompiled = runAndDecode(
    dir,
    'dist/main.js',
    join(dir, 'mode2.blog'),
    join(dir, 'binlog.dict.json'),
  );
  const expected = [
    'INFO app started with 2 workers',
    'DEBUG a template literal without substitutions',
    'TRACE step 0 of 3',
    'TRACE step 1 of 3',
    'TRACE step 2 of 3',
    'INFO worker alpha finished after 3 steps (mask 0xff)',
    'TRACE step 0 of 3',
    'TRACE step 1 of 3',
    'TRACE step 2 of 3',
    'INFO worker beta finished after 3 steps (mask 0xff)',
    'WARN disk /var is 93.5% full',
    'INFO dynamic format stays mode 1',
    'INFO user ann paid 1250 cents',
    'INFO user bob paid 990 cents',
    'ERROR summary {"ok":true,"workers":2}',
    'FATAL bye',
  ];
  assert.equal(precompiled.length, expected.length, precompiled.join('\n'));
  for (const [i, e] of expected.entries()) {
    assert.ok(precompiled[i]?.startsWith(e), `line ${i}: ${precompiled[i]} vs ${e}`);
  }
  // the same sources compiled without the pass (mode 1) log the same text
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} };
  const cfg = ts.getParsedCommandLineOfConfigFile(
    join(dir, 'tsconfig.json'),
    { outDir: join(dir, 'plain') },
    host,
  );
  assert.ok(cfg);
  ts.createProgram({ rootNames: cfg.fileNames, options: cfg.options }).emit();
  assert.match(readFileSync(join(dir, 'plain/main.js'), 'utf8'), /'user %s paid %d cents'/);
  assert.deepEqual(runAndDecode(dir, 'plain/main.js', join(dir, 'mode1.blog')), precompiled);
});
