import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { requiredCapabilities, requireOrSkip } from './require.js';

test('CKPT_REQUIRE is a comma list', () => {
  assert.deepEqual(
    [...requiredCapabilities({ CKPT_REQUIRE: ' uffd-wp, crit,,chromium ' })],
    ['uffd-wp', 'crit', 'chromium'],
  );
  assert.equal(requiredCapabilities({}).size, 0);
});

test('requireOrSkip: runs when present, skips when missing, fails when missing and required', () => {
  const skipped: string[] = [];
  const t = { skip: (m?: string) => void skipped.push(m ?? '') };
  assert.equal(requireOrSkip(t, 'crit', null, {}), false);
  assert.equal(requireOrSkip(t, 'crit', false, { CKPT_REQUIRE: 'crit' }), false);
  assert.equal(requireOrSkip(t, 'crit', 'crit is not installed', { CKPT_REQUIRE: 'uffd-wp' }), true);
  assert.deepEqual(skipped, ['crit is not installed']);
  assert.throws(
    () => requireOrSkip(t, 'crit', 'crit is not installed', { CKPT_REQUIRE: 'uffd-wp,crit' }),
    /required capability crit is missing \(CKPT_REQUIRE\): crit is not installed/,
  );
  assert.equal(skipped.length, 1);
});

test('skipUnlessAvailable: a required capability that is missing adds one failing test to the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-require-test-'));
  try {
    const file = join(dir, 'x.test.mjs');
    const mod = pathToFileURL(
      join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, 'require.js'),
    );
    writeFileSync(
      file,
      `import { test } from 'node:test';\nimport { skipUnlessAvailable } from '${mod.href}';\n` +
        `const skip = skipUnlessAvailable('warp-drive', 'no warp drive');\n` +
        `test('a', { skip }, () => {});\ntest('b', { skip: skipUnlessAvailable('warp-drive', 'no warp drive') }, () => {});\n`,
    );
    const run = (env: NodeJS.ProcessEnv) => {
      const { NODE_TEST_CONTEXT: _, ...outer } = process.env; // a run of its own, not a subtest of ours
      return spawnSync(process.execPath, ['--test-reporter=tap', file], {
        encoding: 'utf8',
        env: { ...outer, ...env },
      });
    };
    const soft = run({ CKPT_REQUIRE: '' });
    assert.equal(soft.status, 0, soft.stdout);
    assert.match(soft.stdout, /# skipped 2/);
    const hard = run({ CKPT_REQUIRE: 'crit,warp-drive' });
    assert.equal(hard.status, 1, hard.stdout);
    assert.match(hard.stdout, /not ok \d+ - required capability warp-drive is present/);
    assert.match(hard.stdout, /# fail 1/, 'one failing test, not one per dependent test');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
