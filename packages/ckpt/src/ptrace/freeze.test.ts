import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SIG, SYS, kill as sysKill } from '../sys/index.js';
import { Fixture } from '../testing/index.js';
import { freeze, Injector, PtraceError } from './index.js';

/** State letter of every thread of `pid` (tid -> state). */
function threadStates(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const m = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'));
      if (m) out.set(Number(t), m[1]!);
    } catch {
      /* thread exited while we listed */
    }
  }
  return out;
}

function assertAllStopped(pid: number, tids: readonly number[]): void {
  const states = threadStates(pid);
  for (const [tid, s] of states) {
    assert.ok(tids.includes(tid), `thread ${tid} exists but was not frozen`);
    assert.equal(s, 't', `thread ${tid} state ${s}`);
  }
}

function assertNoneStopped(pid: number): void {
  for (const [tid, s] of threadStates(pid)) assert.ok(s !== 't' && s !== 'T', `thread ${tid} left in ${s}`);
}

for (const n of [1, 16]) {
  test(`freeze and thaw a ${n}-thread process`, async () => {
    await using f = await Fixture.start('threads', [String(n)]);
    for (let i = 0; i < 3; i++) {
      const frozen = freeze(f.pid);
      assert.equal(frozen.tids.length, n);
      assert.equal(frozen.tids[0], f.pid);
      assert.ok(frozen.stats.freezeMicros > 0);
      assertAllStopped(f.pid, frozen.tids);
      frozen.thaw();
      frozen.thaw(); // safe twice
      assert.equal(frozen.state, 'detached');
      assertNoneStopped(f.pid);
      assert.equal(readFileSync(`/proc/${f.pid}/status`, 'utf8').match(/TracerPid:\s+(\d+)/)![1], '0');
    }
  });
}

test('threads that keep creating threads are all caught', async () => {
  await using f = await Fixture.start('threads', ['4', '8']);
  for (let i = 0; i < 5; i++) {
    using frozen = freeze(f.pid);
    assert.ok(frozen.tids.length >= 4);
    assertAllStopped(f.pid, frozen.tids);
    // nothing new may appear while frozen
    assert.deepEqual(
      [...threadStates(f.pid).keys()].sort((a, b) => a - b),
      frozen.tids,
    );
  }
  assertNoneStopped(f.pid);
});

test('a process that exits during the freeze gives ESRCH', async () => {
  const f = await Fixture.start('threads', ['4']);
  try {
    assert.throws(
      () => freeze(f.pid, { onSeized: () => sysKill(f.pid, SIG.SIGKILL) }),
      (e: unknown) => e instanceof PtraceError && e.code === 'ESRCH',
    );
  } finally {
    f.kill();
  }
  assert.throws(
    () => freeze(f.pid),
    (e: unknown) => e instanceof PtraceError && e.code === 'ESRCH',
  );
});

test('errors: no such pid, ourselves, a kernel thread, a non-leader, already frozen', async () => {
  const code = (c: string) => (e: unknown) => e instanceof PtraceError && e.code === c;
  assert.throws(() => freeze(0x3fffffff), code('ESRCH'));
  assert.throws(() => freeze(process.pid), code('EPERM'));
  assert.throws(() => freeze(2), code('EPERM')); // kthreadd
  assert.throws(() => freeze(-1), code('EINVAL'));
  await using f = await Fixture.start('threads', ['2']);
  const other = readdirSync(`/proc/${f.pid}/task`)
    .map(Number)
    .find((t) => t !== f.pid)!;
  assert.throws(() => freeze(other), code('EINVAL'));
  using frozen = freeze(f.pid);
  assert.throws(() => freeze(f.pid), code('EBUSY'));
  frozen.thaw();
  assertNoneStopped(f.pid);
});

test('a signal sent while frozen is delivered after thaw', async () => {
  await using f = await Fixture.start('injectee', ['1']);
  const frozen = freeze(f.pid);
  f.signal(10); // SIGUSR1: the fixture prints a checksum
  await new Promise((r) => setTimeout(r, 50));
  assert.doesNotMatch(readFileSync(f.logFile, 'utf8'), /SUM 1/);
  frozen.thaw();
  const deadline = Date.now() + 5000;
  while (!/SUM 1/.test(readFileSync(f.logFile, 'utf8')) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.match(readFileSync(f.logFile, 'utf8'), /SUM 1 /);
});

test('a process stopped by SIGSTOP can be frozen and injected, and stays stopped after thaw', async () => {
  await using f = await Fixture.start('injectee', ['1']);
  f.signal(SIG.SIGSTOP);
  for (let i = 0; i < 300 && f.state() !== 'T'; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(f.state(), 'T');
  {
    using frozen = freeze(f.pid);
    assert.equal(frozen.thread(f.pid)!.groupStop, SIG.SIGSTOP);
    using inj = Injector.infect(frozen);
    assert.equal(inj.call('getpid', SYS.getpid), f.pid);
  }
  await new Promise((r) => setTimeout(r, 50));
  for (const [tid, s] of threadStates(f.pid)) assert.equal(s, 'T', `thread ${tid} stays group-stopped`);
  f.signal(SIG.SIGCONT);
  for (let i = 0; i < 300 && f.state() === 'T'; i++) await new Promise((r) => setTimeout(r, 10));
  assertNoneStopped(f.pid);
  assert.doesNotMatch(readFileSync(f.logFile, 'utf8'), /READ-RETURNED/);
});

test('a process killed while frozen: thaw does not throw and leaves no zombie behind', async () => {
  const f = await Fixture.start('threads', ['4']);
  try {
    const frozen = freeze(f.pid);
    f.signal(SIG.SIGKILL);
    await new Promise((r) => setTimeout(r, 50));
    frozen.thaw();
    assert.ok(f.reap(), 'the leader could be reaped at once');
  } finally {
    f.kill();
  }
  assert.equal(f.state(), '');
});
