/**
 * Leftovers: what an earlier run left in a target is found through its track record and closed, with
 * the target frozen; a userfaultfd no record names is closed only with `force`; the scratch mapping of
 * an injector killed mid-injection is unmapped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readMaps } from '../../proc/index.js';
import { findInjectorData, findScratchMappings, freeze, Injector } from '../../ptrace/index.js';
import { countUserfaultfds, Fixture } from '../../testing/index.js';
import {
  closeLeftovers,
  findRecord,
  leftoverCandidates,
  mayHaveLeftovers,
  trackableRanges,
  UffdWpTracker,
  uffdWpUnsupportedReason,
  userfaultfdsOf,
} from './index.js';

test('leftoverCandidates: by record, by what was there before, by force', () => {
  const a = { fd: 3, inode: 100 };
  const b = { fd: 4, inode: 200 };
  const wp = (r: { fd: number }) => r.fd === 4;
  assert.deepEqual(leftoverCandidates({ phase: 'tracking', before: [], uffd: a }, [a, b], false, wp), [a]);
  assert.deepEqual(
    leftoverCandidates({ phase: 'tracking', before: [], uffd: { fd: 3, inode: 9 } }, [a], false, wp),
    [],
  );
  assert.deepEqual(leftoverCandidates({ phase: 'injecting', before: [a] }, [a, b], false, wp), [b]);
  assert.deepEqual(leftoverCandidates(undefined, [a, b], false, wp), []);
  assert.deepEqual(leftoverCandidates(undefined, [a, b], true, wp), [b]);
});

const noUffd = uffdWpUnsupportedReason() ?? false;

/** A run that set tracking up and exited keeping it (as a pre-dump of a chain does). */
function leave(pid: number) {
  const t = new UffdWpTracker(pid, { persist: true });
  t.start(trackableRanges(readMaps(pid)));
  const st = t.save();
  t.close();
  return st;
}

test('a new tracker closes what an earlier run left; release() leaves nothing', {
  skip: noUffd,
}, async () => {
  await using f = await Fixture.start('static', ['4']);
  const old = leave(f.pid);
  assert.equal(findRecord(f.pid)?.uffd?.fd, old.fd);
  const t = new UffdWpTracker(f.pid, { persist: true });
  try {
    t.start(trackableRanges(readMaps(f.pid)));
    const now = userfaultfdsOf(f.pid);
    assert.equal(now.length, 1, 'the old userfaultfd is gone');
    assert.notEqual(now[0]!.inode, old.inode);
    assert.equal(t.untrackedRanges().length, 0, 'no EBUSY: nothing else tracks the ranges');
    assert.equal(findRecord(f.pid)?.uffd?.inode, now[0]!.inode);
  } finally {
    t.release();
  }
  assert.equal(countUserfaultfds(f.pid), 0);
  assert.equal(findRecord(f.pid), undefined);
});

test('closeLeftovers: by record (phases tracking and injecting); without one, only with force', {
  skip: noUffd,
}, async () => {
  await using f = await Fixture.start('static', ['4']);
  assert.equal(mayHaveLeftovers(f.pid), false);
  leave(f.pid);
  assert.equal(mayHaveLeftovers(f.pid), false, "held by this process: its own tracking's");
  assert.deepEqual(closeLeftovers(f.pid).closed.length, 1);
  assert.equal(countUserfaultfds(f.pid), 0);
  assert.equal(findRecord(f.pid), undefined);
  assert.equal(mayHaveLeftovers(f.pid), false);

  // killed between the injection and the record's update: the record names no fd yet
  leave(f.pid);
  const r = findRecord(f.pid)!;
  const { path, uffd: _uffd, ...rest } = r;
  const gone = { pid: 0x3fffffff, startTimeMicros: 1 }; // an earlier ckpt, not running
  writeFileSync(path, JSON.stringify({ ...rest, phase: 'injecting', owner: gone }));
  assert.equal(mayHaveLeftovers(f.pid), true, 'a record of a run that ended');
  assert.equal(closeLeftovers(f.pid).closed.length, 1);
  assert.equal(countUserfaultfds(f.pid), 0);

  // no record at all
  leave(f.pid);
  unlinkSync(findRecord(f.pid)!.path);
  assert.deepEqual(closeLeftovers(f.pid).closed, []);
  assert.equal(countUserfaultfds(f.pid), 1, 'the target may own it: left alone');
  assert.equal(closeLeftovers(f.pid, { force: true }).closed.length, 1);
  assert.equal(countUserfaultfds(f.pid), 0);
  assert.equal(existsSync(path), false);
});

test("closeLeftovers leaves this process's own infection at work (held for the window) alone", async () => {
  await using f = await Fixture.start('static', ['1']);
  using frozen = freeze(f.pid);
  frozen.keepInfection = true;
  const inj = Injector.infect(frozen);
  inj.call('getpid', 39);
  inj.hold();
  const mine = findScratchMappings(f.pid);
  assert.equal(mine.length, 1);
  assert.equal(mayHaveLeftovers(f.pid), false, 'ours is no leftover');
  assert.deepEqual(closeLeftovers(f.pid, { frozen }), { closed: [], unmapped: [] });
  assert.deepEqual(findScratchMappings(f.pid), mine, 'still there');
  assert.equal(Injector.infect(frozen), inj, 'and still held');
  inj.cure();
  assert.deepEqual(findScratchMappings(f.pid), []);
});

const here = dirname(fileURLToPath(import.meta.url));

/** A tracer that SIGKILLs itself once its injector parked the thread on the signed scratch page. */
const KILLED_INJECTOR = `
import { freeze, Injector } from ${JSON.stringify(pathToFileURL(join(here, '../../ptrace/index.js')).href)};
const pid = Number(process.argv[2]);
const how = process.argv[3];
const onStep = (s) => {
  if (s === (how === 'unsigned' ? 'site-exit' : 'site-restored') && how !== 'data') process.kill(process.pid, 'SIGKILL');
};
const frozen = freeze(pid);
const inj = Injector.infect(frozen, pid, undefined, undefined, { onStep });
inj.mmap(65536);
process.kill(process.pid, 'SIGKILL');
`;

const WHAT = {
  signed: 'its scratch mapping',
  data: 'its scratch mapping and a data mapping it had made',
  unsigned: 'its scratch mapping, right after the mmap: not signed yet',
};
for (const how of ['signed', 'data', 'unsigned'] as const) {
  const data = how === 'data';
  test(`closeLeftovers: unmaps what an injector killed mid-injection left (${WHAT[how]}), nothing else`, async () => {
    await using f = await Fixture.start('static', ['4']);
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-leftover-'));
    try {
      const script = join(dir, 'tracer.mjs');
      writeFileSync(script, KILLED_INJECTOR);
      const before = readMaps(f.pid).length;
      const r = spawnSync(process.execPath, [script, String(f.pid), how], {
        encoding: 'utf8',
      });
      assert.equal(r.signal, 'SIGKILL', r.stderr);
      let left = findScratchMappings(f.pid);
      for (let i = 0; i < 100 && left.length === 0; i++) left = findScratchMappings(f.pid);
      assert.equal(left.length, 1, 'the killed injector left its scratch mapping');
      assert.equal(left[0]!.tracer, how === 'unsigned' ? 0 : r.pid, 'signed with the dead tracer');
      // named where the kernel names anonymous mappings, else listed in the scratch mapping's table
      const extra = [...findInjectorData(f.pid), ...left[0]!.data];
      assert.equal(extra.length, data ? 1 : 0);
      assert.equal(mayHaveLeftovers(f.pid, dir), true);
      const out = closeLeftovers(f.pid, { dir });
      assert.deepEqual(
        out.unmapped.map((m) => m.start).sort(),
        [left[0]!.start, ...extra.map((m) => m.start)].sort(),
      );
      assert.deepEqual(out.closed, []);
      assert.deepEqual(findScratchMappings(f.pid), []);
      assert.deepEqual(findInjectorData(f.pid), []);
      for (const d of extra) {
        assert.ok(!readMaps(f.pid).some((v) => v.start < d.end && d.start < v.end), 'data range unmapped');
      }
      assert.equal(readMaps(f.pid).length, before, 'the mappings are as before the killed injection');
      assert.match(f.state(), /^[RS]$/, 'running');
      assert.deepEqual(closeLeftovers(f.pid, { dir }).unmapped, [], 'a second call finds nothing');
      assert.equal(mayHaveLeftovers(f.pid, dir), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
