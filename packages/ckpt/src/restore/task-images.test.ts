/**
 * The images of a real dump of restorable.c read ahead (task-images.ts readTree): decoded as their bytes
 * came (DecodedImages, a migration's FILE frames), they are the images read from the files; an image
 * that does not decode is read from its file; the decoded ones are what the read takes.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fullDumpProcess } from '../dump/full/index.js';
import { Scratch } from '../testing/index.js';
import { RestoreError } from './errors.js';
import { DecodedImages, readTree, type TreeImages } from './task-images.js';

const scratch = new Scratch('ckpt-task-images-test-');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a restore uses of each process (the ImageDir handles left out). */
const content = (t: TreeImages) =>
  t.tasks.map(({ pid, pstree, cores, mm, fs, fds, files }) => ({ pid, pstree, cores, mm, fs, fds, files }));

test('images decoded as they came are the images read from the files; one that does not decode is read', async () => {
  const dir = scratch.newDir();
  const f = await scratch.start('restorable', []);
  try {
    await fullDumpProcess({ pid: f.pid, imagesDir: dir });
  } finally {
    f.kill();
  }
  for (let i = 0; i < 500 && existsSync(`/proc/${f.pid}`); i++) await sleep(10);
  const decoded = new DecodedImages();
  for (const name of readdirSync(dir)) {
    const bytes = readFileSync(join(dir, name));
    // a core image cut short: not decoded, read from its file
    decoded.add(name, name.startsWith('core-') ? bytes.subarray(0, 12) : bytes);
  }
  assert.deepEqual(content(readTree(dir, decoded)), content(readTree(dir)));
  // the decoded ones are what the read takes: their files may be gone
  const mm = readdirSync(dir).find((n) => n.startsWith('mm-'))!;
  rmSync(join(dir, mm));
  assert.equal(readTree(dir, decoded).tasks[0]!.pid, f.pid);
  assert.throws(
    () => readTree(dir),
    (e: unknown) => e instanceof RestoreError && e.code === 'ENOENT',
  );
});
