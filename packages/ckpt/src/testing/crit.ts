/**
 * CRIU's own decoder as a second opinion on our images: `crit decode` (Debian criu's /usr/bin/crit) on
 * every image of a directory. A test without crit installed is skipped with the reason.
 *
 * @example
 * test('images decode', (t) => { critDecodesAll(t, dir); });
 * critDecodesAll(t, dir, /^pages-|\.log\.bin$/); // also leave out the binary logs
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { requireOrSkip } from './require.js';

/**
 * Decode every image (`*.img`) of `dir` whose name does not match `except` (default: the raw pages-N.img);
 * ckpt's own side files (ckpt-*.json, logs) are not CRIU images.
 */
export function critDecodesAll(t: { skip(m: string): void }, dir: string, except = /^pages-/): void {
  if (requireOrSkip(t, 'crit', !existsSync('/usr/bin/crit') && 'crit is not installed (/usr/bin/crit)'))
    return;
  for (const name of readdirSync(dir)) {
    if (except.test(name) || !name.endsWith('.img')) continue;
    const r = spawnSync('/usr/bin/crit', ['decode', '-i', join(dir, name)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `crit decode ${name}: ${r.stderr}`);
  }
}
