/**
 * Zombie children through a dump and a restore (zombies.c: one exited with 7, one killed by SIGTERM, not
 * reaped): they come back as zombies of their restored parent, whose waitpid() then gets the same
 * statuses. ckpt's dump by ckpt's restore, and (CKPT_CRIU) by criu restore and criu's dump by ckpt's.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  DUMPERS,
  doneReport,
  killRestored,
  RESTORERS,
  reap,
  Scratch,
  sleep,
  TOOL_PAIRS,
} from '../testing/index.js';
import { killAndReap } from './reap.js';

const scratch = new Scratch('ckpt-restore-zombies-');

const state = (pid: number) => {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return `${f[0]} ${f[1]}`; // state, ppid
  } catch {
    return 'gone';
  }
};

for (const { dumper, restorer, skip } of TOOL_PAIRS)
  test(`zombie children come back as zombies of their parent, with their exit statuses (${dumper} dump, ${restorer} restore)`, {
    skip,
  }, async () => {
    const dir = scratch.newDir();
    const f = await scratch.start('zombies', []);
    const [a, b] = [f.num('a'), f.num('b')];
    assert.equal(state(a), `Z ${f.pid}`);
    await DUMPERS[dumper](f.pid, dir);
    f.kill();
    // the dumped parent's zombies now belong to us (a child subreaper): reaped, their pids free again
    for (
      let i = 0;
      i < 500 && (existsSync(`/proc/${f.pid}`) || existsSync(`/proc/${a}`) || existsSync(`/proc/${b}`));
      i++
    ) {
      reap(a);
      reap(b);
      await sleep(10);
    }
    await RESTORERS[restorer](dir);
    try {
      assert.equal(state(a), `Z ${f.pid}`, 'A is a zombie of the restored parent');
      assert.equal(state(b), `Z ${f.pid}`, 'B too');
      assert.deepEqual(await doneReport(f, /^REAPED /), [`REAPED ${a} ${7 << 8}`, `REAPED ${b} 15`]);
    } finally {
      killRestored(f.pid);
      killAndReap(f.pid);
    }
  });
