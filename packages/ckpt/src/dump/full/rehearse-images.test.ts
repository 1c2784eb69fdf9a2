/** rehearseTaskImages: runs, and leaves nothing in the temporary directory. */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { rehearseTaskImages } from './rehearse-images.js';

test('rehearseTaskImages writes its rounds and removes its scratch directory', () => {
  const mine = () => readdirSync(tmpdir()).filter((n) => n.startsWith('ckpt-rehearsal-'));
  const before = mine();
  assert.equal(rehearseTaskImages(2), true);
  assert.deepEqual(mine(), before);
});
