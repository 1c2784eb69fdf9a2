/**
 * The pre-built process (prebuilt-process.ts) against real dumps of restorable.c: built from two
 * pre-dumps while the source runs, adopted by restoreProcess at the final dump (its anonymous mappings
 * kept, memory equal to the images, the process runs on); killed, it leaves nothing; a tree it does not
 * fit is restored the plain way.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { finalDump } from '../dump/full/index.js';
import { preDump } from '../dump/index.js';
import { readMaps } from '../proc/index.js';
import { PROT, kill as sysKill } from '../sys/index.js';
import { type Fixture, Scratch } from '../testing/index.js';
import { PrebuiltProcess, type VmaPreview } from './prebuilt-process.js';
import { killAndReap } from './reap.js';
import { restoreProcess } from './restore-process.js';

const scratch = new Scratch('ckpt-prebuilt-test-');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lines(f: Fixture, re: RegExp): string[] {
  return readFileSync(f.logFile, 'utf8')
    .split('\n')
    .filter((l) => re.test(l));
}

async function sum(pid: number, f: Fixture, n: number): Promise<string> {
  sysKill(pid, 10);
  for (let i = 0; i < 300 && lines(f, /^SUM /).length < n; i++) await sleep(10);
  const sums = lines(f, /^SUM /);
  assert.ok(sums.length >= n, `no SUM report ${n}`);
  return sums[n - 1]!;
}

/** What `ckpt migrate` sends: the private anonymous VMAs of /proc/PID/maps. */
function preview(pid: number): VmaPreview[] {
  return readMaps(pid)
    .filter((v) => v.private && v.inode === 0 && (v.path === '' || v.path === '[heap]'))
    .map((v) => ({
      start: v.start,
      end: v.end,
      prot: (v.read ? PROT.READ : 0) | (v.write ? PROT.WRITE : 0) | (v.exec ? PROT.EXEC : 0),
    }));
}

/** Two pre-dumps and a final dump (killing the fixture) chained in a scratch directory; the previews. */
async function chain(args: string[]): Promise<{ f: Fixture; sets: string[]; previews: VmaPreview[][] }> {
  const root = scratch.newDir();
  const f = await scratch.start('restorable', args);
  await sum(f.pid, f, 1);
  const sets = ['1', '2', '3'].map((n) => join(root, n));
  const previews: VmaPreview[][] = [];
  for (const [i, dir] of sets.slice(0, 2).entries()) {
    previews.push(preview(f.pid));
    await preDump({ pid: f.pid, imagesDir: dir, prevImagesDir: i > 0 ? '../1' : undefined });
  }
  await finalDump({ pid: f.pid, imagesDir: sets[2]!, prevImagesDir: '../2' });
  for (let i = 0; i < 500 && existsSync(`/proc/${f.pid}`); i++) await sleep(10);
  assert.equal(existsSync(`/proc/${f.pid}`), false, 'the dumped process is gone');
  return { f, sets, previews };
}

test('pre-built from two pre-dumps, adopted at the final dump: mappings kept, same memory, it runs on', async () => {
  const { f, sets, previews } = await chain(['8', '0', '-']);
  const before = lines(f, /^SUM /)[0]!;
  using pre = PrebuiltProcess.start(f.pid, previews[0]!);
  pre.prepare(previews[0]!);
  const s1 = await pre.advance(sets[0]!);
  assert.ok(s1.pages >= (8 << 20) / 4096, `set 1 filled ${s1.pages} pages`);
  pre.prepare(previews[1]!);
  await pre.advance(sets[1]!);
  const r = await restoreProcess({ imagesDir: sets[2]!, prebuilt: pre });
  try {
    assert.equal(r.pid, f.pid);
    assert.ok((r.prebuilt?.kept ?? 0) > 0, 'anonymous mappings kept');
    assert.equal(await sum(f.pid, f, 2), before, 'memory as dumped');
  } finally {
    killAndReap(r.pid);
  }
});

test('a pre-built process killed (a give-up, the source lost) leaves nothing; twice is safe', async () => {
  const { f, sets, previews } = await chain(['1', '0', '-']);
  using pre = PrebuiltProcess.start(f.pid, previews[0]!);
  pre.prepare(previews[0]!);
  await pre.advance(sets[0]!);
  assert.match(readFileSync(`/proc/${f.pid}/stat`, 'utf8'), /^\d+ \(\S+\) t/, 'held stopped under ptrace');
  pre.kill();
  pre.kill();
  assert.equal(existsSync(`/proc/${f.pid}`), false, 'gone and reaped');
  // the restore goes the plain way with a process that was killed
  const r = await restoreProcess({ imagesDir: sets[2]!, prebuilt: pre });
  try {
    assert.equal(r.prebuilt, undefined);
    assert.equal(r.pid, f.pid);
  } finally {
    killAndReap(r.pid);
  }
});
