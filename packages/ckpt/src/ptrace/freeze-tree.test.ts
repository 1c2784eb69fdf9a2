import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { listChildren } from '../proc/index.js';
import { Fixture } from '../testing/index.js';
import { freezeTree, PtraceError } from './index.js';

/** State letter of process `pid` ('' when gone). */
function state(pid: number): string {
  try {
    return /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
  } catch {
    return '';
  }
}

/** Every descendant of `root`, listed now. */
function descendants(root: number): number[] {
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift()!;
    try {
      for (const c of listChildren(p)) {
        out.push(c);
        queue.push(c);
      }
    } catch {
      /* gone */
    }
  }
  return out;
}

test('a tree that keeps forking is frozen whole: every live descendant is held and stopped', async () => {
  await using f = await Fixture.start('forker', ['4']);
  for (let i = 0; i < 5; i++) {
    const tree = freezeTree(f.pid);
    try {
      assert.equal(tree.pids[0], f.pid);
      assert.ok(tree.pids.length >= 5, `${tree.pids.length} processes`);
      assert.ok(tree.stats.rounds >= 2);
      // nothing can fork while frozen: a listing now is the final tree
      for (const p of descendants(f.pid)) {
        const s = state(p);
        if (s === 'Z' || s === '') continue; // exited before it could be frozen
        assert.ok(tree.get(p), `process ${p} (state ${s}) is in the tree but not frozen`);
      }
      for (const p of tree.pids) assert.equal(state(p), 't', `process ${p}`);
    } finally {
      tree.thaw();
    }
    tree.thaw(); // safe twice
    assert.equal(tree.frozen, false);
    for (const p of tree.pids) assert.notEqual(state(p), 't', `process ${p} left stopped`);
  }
});

test('tree: false freezes the root alone; a missing root is ESRCH', async () => {
  await using f = await Fixture.start('forker', ['1']);
  {
    using tree = freezeTree(f.pid, { tree: false });
    assert.deepEqual(tree.pids, [f.pid]);
  }
  assert.notEqual(state(f.pid), 't');
  assert.throws(
    () => freezeTree(2 ** 22 + 12345),
    (e: unknown) => e instanceof PtraceError && e.code === 'ESRCH',
  );
});
