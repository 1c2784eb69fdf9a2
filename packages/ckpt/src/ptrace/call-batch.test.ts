import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { readMaps } from '../proc/index.js';
import { SYS, syscall } from '../sys/index.js';
import { Fixture } from '../testing/index.js';
import { findScratchMappings, freeze, Injector } from './index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ask the injectee for a checksum of its data (SIGUSR1: its second thread answers) and return it. */
async function checksum(f: Fixture, n: number): Promise<string> {
  f.signal(10);
  const re = new RegExp(`^SUM ${n} ([0-9a-f]+)$`, 'm');
  for (let i = 0; i < 500; i++) {
    const m = re.exec(readFileSync(f.logFile, 'utf8'));
    if (m) return m[1]!;
    await sleep(10);
  }
  throw new Error(`no checksum ${n} from ${f.pid}`);
}
const SIGWINCH = 28;

test('a batch runs a table of calls with one stop per 32 calls; the target runs on unchanged', async () => {
  await using f = await Fixture.start('injectee', ['1']);
  {
    using frozen = freeze(f.pid);
    const rip = frozen.regs(f.pid).get('rip');
    using inj = Injector.infect(frozen);
    const stops = inj.stats.stops;
    const batches = inj.stats.batches; // the infection's own (mprotect and name) included
    const ts = inj.scratch.address;
    const calls = [
      { nr: SYS.getpid },
      { nr: SYS.close, args: [99999] },
      { nr: 228, args: [1, ts] }, // clock_gettime(CLOCK_MONOTONIC, scratch)
      ...Array.from({ length: 37 }, () => ({ nr: 110 })), // getppid,
    ];
    const r = inj.batch(calls);
    assert.equal(r.length, calls.length);
    assert.equal(r[0], f.pid);
    assert.equal(r[1], -9, 'a failing call answers -EBADF');
    assert.equal(r[2], 0);
    assert.ok(inj.read(ts, 8).readBigInt64LE() > 0n, 'the answer is in memory');
    assert.equal(new Set(r.slice(3)).size, 1, 'every getppid answers the same');
    assert.ok(r[3]! > 0);
    assert.equal(inj.stats.batches - batches, 2, '40 calls: two chunks');
    assert.equal(inj.stats.stops - stops, 2, 'one stop per chunk');
    assert.equal(inj.call('getpid', SYS.getpid), f.pid, 'single calls still run after a batch');
    inj.cure();
    assert.equal(frozen.regs(f.pid).get('rip'), rip);
  }
  await sleep(50);
  assert.match(f.state(), /^[SR]$/);
  assert.doesNotMatch(readFileSync(f.logFile, 'utf8'), /READ-RETURNED/, 'the interrupted read() restarted');
});

test("a real instance of the batch's quiet signal is told apart from the batch's end and delivered", async () => {
  await using f = await Fixture.start('injectee', ['1']);
  {
    using frozen = freeze(f.pid);
    using inj = Injector.infect(frozen);
    // SIGWINCH pending for the main thread before the batch: it stops the thread before the first call
    syscall(SYS.tgkill, f.pid, f.pid, SIGWINCH);
    const r = inj.batch([{ nr: SYS.getpid }, { nr: SYS.getpid }]);
    assert.deepEqual(r, [f.pid, f.pid], 'the batch ran to its end');
    assert.deepEqual(frozen.thread(f.pid)!.signals, [SIGWINCH], 'the real one is remembered');
  }
  await sleep(50);
  assert.match(f.state(), /^[SR]$/);
  assert.doesNotMatch(readFileSync(f.logFile, 'utf8'), /READ-RETURNED/);
});

test("another thread runs batches from the injector's scratch mapping (a guest): no mapping of its own", async () => {
  await using f = await Fixture.start('injectee', ['1']);
  const before = await checksum(f, 1);
  {
    using frozen = freeze(f.pid);
    const other = frozen.tids.find((t) => t !== f.pid)!;
    const regs = frozen.regs(other).bytes.slice();
    using inj = Injector.infect(frozen);
    const maps = readMaps(f.pid).length;
    const stops = inj.stats.stops;
    const g = inj.guest(other);
    assert.ok(g, 'the summing thread can be a guest');
    assert.equal(inj.guest(other), undefined, 'one guest per thread');
    assert.equal(inj.guest(f.pid), undefined, 'the injector thread is no guest');
    const [tid, pid] = g.batch([{ nr: 186 }, { nr: SYS.getpid }]); // gettid
    assert.deepEqual([tid, pid], [other, f.pid], 'the calls ran in that thread');
    assert.equal(inj.stats.stops - stops, 1, 'one stop for the batch, none to set the guest up');
    assert.equal(readMaps(f.pid).length, maps, 'no mapping of its own');
    inj.cure();
    assert.equal(g.infected, false, "the injector's cure cures its guests");
    assert.deepEqual(frozen.regs(other).bytes, regs, 'its registers are back');
  }
  assert.equal(await checksum(f, 2), before, 'the summing thread runs on (its sigwait restarted)');
  assert.doesNotMatch(readFileSync(f.logFile, 'utf8'), /READ-RETURNED/);
});

test('hold(): the next infect of the window takes the infection over; meanwhile the thread has its own registers', async () => {
  await using f = await Fixture.start('injectee', ['1']);
  {
    using frozen = freeze(f.pid);
    const regs = frozen.regs(f.pid).bytes.slice();
    const inj = Injector.infect(frozen);
    assert.equal(inj.call('getpid', SYS.getpid), f.pid);
    inj.hold();
    assert.deepEqual(frozen.regs(f.pid).bytes, regs, 'its own registers while held');
    assert.equal(findScratchMappings(f.pid).length, 1, 'the scratch mapping stays');
    const again = Injector.infect(frozen);
    assert.equal(again, inj, 'taken over: no second mapping');
    assert.deepEqual(again.batch([{ nr: SYS.getpid }]), [f.pid]);
    inj.hold();
    const other = frozen.tids.find((t) => t !== f.pid)!;
    const third = Injector.infect(frozen, other); // another thread: the held one is cured first
    assert.notEqual(third, inj);
    assert.equal(inj.infected, false);
    third.cure();
    assert.deepEqual(frozen.regs(f.pid).bytes, regs);
    assert.deepEqual(findScratchMappings(f.pid), []);
  }
  await sleep(50);
  assert.match(f.state(), /^[SR]$/);
  assert.doesNotMatch(readFileSync(f.logFile, 'utf8'), /READ-RETURNED/);
});
