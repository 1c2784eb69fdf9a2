/**
 * The package's public surface: `exports` maps `ckpt` to the library entry and hides everything else
 * (dist/testing, the tests, deep imports), through the package's own name (a self-reference, as a user's
 * import would resolve it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

describe('package exports', () => {
  it('ckpt resolves to the library entry', async () => {
    const m = (await import('ckpt')) as Record<string, unknown>;
    for (const name of ['preDump', 'preDumpSplice', 'DumpPipeline', 'freezeTree', 'openPageSession']) {
      assert.equal(typeof m[name], 'function', name);
    }
  });

  it('dist/testing and deep imports are not exported', async () => {
    for (const spec of ['ckpt/dist/testing/index.js', 'ckpt/dist/dump/index.js', 'ckpt/testing']) {
      await assert.rejects(import(spec), (e: NodeJS.ErrnoException) => {
        assert.ok(
          e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || e.code === 'ERR_MODULE_NOT_FOUND',
          `${spec}: ${e.code}`,
        );
        return true;
      });
    }
  });
});
