/**
 * A forking server, pre-dumped as a chain: the forker fixture's spawners fork a short-lived child every
 * ~1 ms (far more often than a server's 100 ms), so processes appear and exit during every pre-dump.
 * Ten chained pre-dumps with memory tracking must all succeed (children that exit are reported, not
 * fatal; new ones join in full), the tenth frozen; inside its frozen window every frozen process's memory
 * equals what the chain restores.
 */
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { test } from 'node:test';
import { uffdWpUnsupportedReason } from '../mem/index.js';
import { countUserfaultfds, Scratch, skipUnlessAvailable } from '../testing/index.js';
import { checkChain } from './chain-check.js';
import { preDump } from './pre-dump.js';

const scratch = new Scratch('ckpt-forking-chain-');
const noUffd = skipUnlessAvailable('uffd-wp', uffdWpUnsupportedReason());

test('a forking server: 10 of 10 chained pre-dumps succeed, the chain equals the frozen memory', {
  skip: noUffd,
}, async () => {
  const f = await scratch.start('forker', ['2']);
  let prev: string | undefined;
  const exited: number[] = [];
  for (let i = 0; i < 10; i++) {
    const dir = scratch.newDir();
    const last = i === 9;
    let checked = 0;
    const r = await preDump({
      pid: f.pid,
      imagesDir: dir,
      prevImagesDir: prev ? `../${basename(prev)}` : undefined,
      trackMem: 'auto',
      freeze: last,
      afterCommit: last
        ? (res) => {
            for (const t of res.tasks) {
              const c = checkChain(t.pid, dir);
              assert.equal(c.mismatched, 0, `process ${t.pid}: ${c.mismatched} pages differ`);
              assert.equal(c.missing, 0, `process ${t.pid}: ${c.missing} pages missing`);
              checked++;
            }
          }
        : undefined,
    });
    assert.ok(r.processes >= 3, `iteration ${i}: ${r.processes} processes`);
    exited.push(...(r.exited ?? []));
    if (last) assert.equal(checked, r.tasks.length);
    prev = dir;
  }
  assert.equal(countUserfaultfds(f.pid), 0, 'the frozen end closed tracking');
  assert.ok(exited.length >= 0);
});
