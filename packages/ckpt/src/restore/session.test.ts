/**
 * Sessions and process groups through a dump and a restore (sessions.c: a child leading its own session
 * with groups in it, a group led by a sibling, a grandparent's group): every process comes back with the
 * dumped sid and pgid, from ckpt's dump and (CKPT_CRIU) from criu dump's.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeImageOf, MAGIC, type PstreeEntry, pstreeEntryCodec } from '../images/index.js';
import { DUMPERS, type Fixture, NO_CRIU, Scratch } from '../testing/index.js';
import { RestoreError } from './errors.js';
import { killAndReap } from './reap.js';
import { restoreProcess } from './restore-process.js';
import { liveSession, planSessions } from './session.js';
import type { TaskImages } from './task-images.js';

const scratch = new Scratch('ckpt-restore-session-');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const beats = (f: Fixture) =>
  readFileSync(f.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('BEAT ')).length;

function pstree(dir: string): PstreeEntry[] {
  return decodeImageOf(readFileSync(join(dir, 'pstree.img')), MAGIC.PSTREE).map((b) =>
    pstreeEntryCodec.decode(b),
  );
}

/** Kill the tree (parents first: each child is then ours to reap, we are a child subreaper) and reap it. */
function killTree(pids: readonly number[]): void {
  for (const pid of pids) killAndReap(pid);
}

for (const [tool, dump] of Object.entries(DUMPERS))
  test(`sessions and groups come back as dumped (a child's session, a sibling's and a grandparent's group; ${tool} dump)`, {
    skip: tool === 'criu' ? NO_CRIU : false,
  }, async () => {
    const dir = scratch.newDir();
    const f = await scratch.start('sessions', []);
    const live = new Map<number, { sid: number; pgid: number }>();
    await dump(f.pid, dir);
    const tree = pstree(dir);
    const pids = tree.map((p) => p.pid);
    killTree(pids);
    for (const pid of pids) for (let i = 0; i < 500 && existsSync(`/proc/${pid}`); i++) await sleep(10);
    const dumped = tree.map((p) => [p.pid, p.sid, p.pgid]);
    assert.equal(tree.length, 8);
    assert.equal(new Set(tree.map((p) => p.sid)).size, 2, `two sessions: ${JSON.stringify(dumped)}`);
    assert.equal(new Set(tree.map((p) => p.pgid)).size, 4, `four groups: ${JSON.stringify(dumped)}`);
    const n = beats(f);
    const r = await restoreProcess({ imagesDir: dir });
    try {
      assert.deepEqual(r.pids, pids);
      for (const pid of pids) live.set(pid, liveSession(pid));
      assert.deepEqual(
        pids.map((pid) => [pid, live.get(pid)!.sid, live.get(pid)!.pgid]),
        dumped,
        'sid and pgid of every process',
      );
      for (let i = 0; i < 300 && beats(f) <= n + 2; i++) await sleep(10);
      assert.ok(beats(f) > n + 2, 'no heartbeat after restore');
    } finally {
      killTree(pids);
    }
  });

test("a session neither the process's own nor its parent's is refused before a pid is taken", () => {
  const images = (
    [
      [10, 0, 10, 10],
      [11, 10, 11, 11],
      [12, 11, 10, 10],
    ] as const
  ).map(([pid, ppid, sid, pgid]) => ({ pid, pstree: { pid, ppid, sid, pgid, threads: [pid] } }));
  assert.throws(
    () => planSessions(images as unknown as TaskImages[], false),
    (e: unknown) =>
      e instanceof RestoreError &&
      e.code === 'ENOTSUP' &&
      e.message === 'process 12 is in session 10, its parent 11 in 11: not restored yet',
  );
});
