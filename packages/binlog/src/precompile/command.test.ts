import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { copyProject, TEST_PROJECTS as projects } from './test-project.js';

const entry = new URL('./index.js', import.meta.url).href;

/** `binlog precompile ...args` in a child process. */
function precompile(args: string[], cwd = projects) {
  const script = `import { precompileMain } from ${JSON.stringify(entry)}; process.exitCode = await precompileMain(process.argv.slice(1));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', ...args], {
    cwd,
    encoding: 'utf8',
  });
  assert.ok(!/\n\s+at /.test(r.stderr), `stack trace printed: ${r.stderr}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.trim().split('\n').filter(Boolean) };
}

test('--help prints the usage and exits 0', () => {
  const r = precompile(['--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /--project FILE/);
  assert.match(r.stdout, /--in DIR/);
});

test('bad usage, a missing tsconfig and a bad dictionary: one line each, exit 2', () => {
  for (const args of [[], ['--frobnicate'], ['--project'], ['--in', 'x'], ['--project', 'a', '--in', 'b']]) {
    const r = precompile(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.equal(r.stderr.length, 1, r.stderr.join('\n'));
    assert.match(r.stderr[0] ?? '', /^binlog precompile: /);
  }
  const missing = precompile(['--project', 'no-such/tsconfig.json']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr[0] ?? '', /no-such\/tsconfig\.json/);
  const dir = copyProject('app');
  writeFileSync(join(dir, 'binlog.dict.json'), '{"binlogDictionary":1,"hash":"0","formats":[]}');
  const bad = precompile(['--project', 'tsconfig.json'], dir);
  assert.equal(bad.status, 2);
  assert.deepEqual(bad.stderr, [
    'binlog precompile: /' +
      `${join(dir, 'binlog.dict.json').slice(1)}: dictionary hash 0 does not match its contents (${'e3b0c44298fc1c14'})`,
  ]);
});

test('errors in the sources: file:line:col lines and exit 1; --check writes nothing', () => {
  const r = precompile(['--check', '-p', 'bad/tsconfig.json']);
  assert.equal(r.status, 1);
  assert.deepEqual(r.stderr, [
    `bad/src/bad.ts:4:18: argument 1 for '%d' in "n=%d" must be number | bigint, got string`,
    'bad/src/bad.ts:5:10: format "%s and %s" has 2 specifiers but warn() is given 1 argument after it',
    `bad/src/bad.ts:6:11: unknown specifier '%q' at offset 5 in format "rate %q"`,
    'binlog precompile: 3 errors',
  ]);
});

test('a build with --dict and --out-dir prints a summary and exits 0', () => {
  const dir = copyProject('app');
  const r = precompile(['--project', 'tsconfig.json', '--dict', 'ids.json', '--out-dir', 'build'], dir);
  assert.equal(r.status, 0, r.stderr.join('\n'));
  assert.match(
    r.stdout,
    /^binlog precompile: 9 calls rewritten in 2 files, 8 formats, dictionary ids\.json \(hash [0-9a-f]{16}\)\n$/,
  );
  assert.match(readFileSync(join(dir, 'build/main.js'), 'utf8'), /^import "\.\/binlog-dict\.js";/);
  assert.equal(JSON.parse(readFileSync(join(dir, 'ids.json'), 'utf8')).formats.length, 8);
});
