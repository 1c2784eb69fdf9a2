/**
 * The driver's contract beyond the pre-dump tests: the caller owns the freeze (a tree frozen by the
 * caller stays frozen, every process of it is dumped), a whole tree is frozen at once, and an exec is
 * never committed as one program's images (during a dump: failure; since the parent: a full dump).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ImageDir, INCOMPLETE_MARKER } from '../images/index.js';
import { readIdentity, sameProgram } from '../proc/index.js';
import { freezeTree } from '../ptrace/index.js';
import { SIG, kill as sysKill } from '../sys/index.js';
import { type Fixture, Scratch } from '../testing/index.js';
import { DumpError } from './errors.js';
import { preDump } from './pre-dump.js';
import { PROCESS_IDS_FILE } from './process-ids.js';

const scratch = new Scratch('ckpt-pipeline-test-');
const start = (name: string, args: string[]) => scratch.start(name, args);

function state(pid: number): string {
  try {
    return /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
  } catch {
    return '';
  }
}

/** SIGUSR1 the execer and wait until it runs generation `gen` (its memory filled). */
async function execAndWait(f: Fixture, gen: number): Promise<void> {
  const before = readIdentity(f.pid);
  process.kill(f.pid, 'SIGUSR1');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (!sameProgram(before, readIdentity(f.pid)) && readFileSync(f.logFile, 'utf8').includes(`gen=${gen}`)) {
      return;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`the execer did not reach generation ${gen}`);
}

test("the caller's frozen tree: dumped whole inside it, left frozen, thawed by the caller", async () => {
  const f = await start('forker', ['3']);
  const dir = scratch.newDir();
  const tree = freezeTree(f.pid);
  try {
    const r = await preDump({ pid: f.pid, imagesDir: dir, frozen: tree });
    assert.deepEqual(
      r.tasks.map((t) => t.pid),
      tree.pids,
    );
    assert.ok(r.frozen);
    for (const p of tree.pids) assert.equal(state(p), 't', `process ${p} still frozen`);
    assert.ok(ImageDir.open(dir).complete);
  } finally {
    tree.thaw();
  }
  for (const p of tree.pids) assert.notEqual(state(p), 't');
  await assert.rejects(
    preDump({ pid: f.pid, imagesDir: scratch.newDir(), frozen: tree, freeze: true }),
    (e: unknown) => e instanceof DumpError && e.code === 'EINVAL',
  );
});

test('--freeze on a tree that keeps forking: every process frozen at once is dumped, the exited are reported', async () => {
  const f = await start('forker', ['4']);
  const dir = scratch.newDir();
  const r = await preDump({ pid: f.pid, imagesDir: dir, freeze: true });
  assert.ok(r.processes >= 5, `${r.processes} processes`);
  assert.ok(Array.isArray(r.exited));
  const d = ImageDir.open(dir);
  assert.deepEqual(
    d.pids(),
    r.tasks.map((t) => t.pid).sort((a, b) => a - b),
  );
  for (const t of r.tasks) assert.notEqual(state(t.pid), 't', `process ${t.pid} left stopped`);
});

test('an exec during a running pre-dump fails it: never images of two programs', async () => {
  const f = await start('execer', ['32']);
  const dir = scratch.newDir();
  let fired = false;
  await assert.rejects(
    preDump({
      pid: f.pid,
      imagesDir: dir,
      bufferSize: 1 << 20,
      afterBuffer: (i) => {
        if (i !== 2 || fired) return;
        fired = true;
        const before = readIdentity(f.pid);
        process.kill(f.pid, 'SIGUSR1');
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline && sameProgram(before, readIdentity(f.pid))) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
        }
      },
    }),
    (e: unknown) => {
      assert.ok(e instanceof DumpError && e.code === 'ESRCH', String(e));
      assert.match(e.message, /exec/);
      return true;
    },
  );
  assert.ok(fired);
  assert.ok(existsSync(join(dir, INCOMPLETE_MARKER)));
  assert.ok(!existsSync(join(dir, 'inventory.img')));
});

test('an exec since the parent: that process is dumped in full, no PE_PARENT holes into the old program', async () => {
  const f = await start('execer', ['8']);
  const base = scratch.newDir();
  const d1 = join(base, '1');
  const d2 = join(base, '2');
  const r1 = await preDump({ pid: f.pid, imagesDir: d1, trackMem: 'auto' });
  assert.ok(r1.pagesWritten > 0);
  assert.ok(existsSync(join(d1, PROCESS_IDS_FILE)));
  await execAndWait(f, 2);
  const r2 = await preDump({ pid: f.pid, imagesDir: d2, prevImagesDir: '../1', trackMem: 'auto' });
  const t = r2.tasks[0]!;
  assert.equal(t.mode, 'full');
  assert.match(t.fallback ?? '', /exec/);
  assert.equal(r2.pagesSkippedParent, 0);
  assert.ok(ImageDir.open(d2).complete);
  sysKill(f.pid, SIG.SIGKILL);
});
