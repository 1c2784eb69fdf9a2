import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { readMaps } from '../proc/index.js';
import { SYS, syscall } from '../sys/index.js';
import { Fixture } from '../testing/index.js';
import { findScratchMappings, freeze, Injector, PtraceError, RemoteMemory } from './index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ask the injectee for a checksum of its data (SIGUSR1) and return it. */
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

function mapped(pid: number, addr: number): boolean {
  return readMaps(pid).some((v) => v.start <= addr && addr < v.end);
}

function peek(pid: number, addr: number, len: number): Buffer {
  using mem = RemoteMemory.open(pid);
  return mem.read(addr, len);
}

/** The 256 bytes below a thread's red zone, where a site call puts its restore frame. */
function stackArea(rsp: number): number {
  const a = rsp - 128 - 256;
  return a - (a % 16);
}

test('inject getpid, mmap, munmap; the target runs on unchanged', async () => {
  await using f = await Fixture.start('injectee', ['4']);
  const before = await checksum(f, 1);
  const site = readMaps(f.pid).find((v) => v.exec && !v.path.startsWith('['))!.start;
  const code = peek(f.pid, site, 64);
  let stack: Buffer = Buffer.alloc(0);
  let stackAt = 0;
  let scratchAddr = 0;
  {
    using frozen = freeze(f.pid);
    const rip = frozen.regs(f.pid).get('rip');
    stackAt = stackArea(frozen.regs(f.pid).address('rsp'));
    stack = peek(f.pid, stackAt, 256);
    using inj = Injector.infect(frozen);
    assert.equal(inj.site, site);
    assert.deepEqual(peek(f.pid, site, 64), code, 'no code byte of the target is patched while infected');
    assert.deepEqual(peek(f.pid, stackAt, 256), stack, 'the stack area is back too');
    assert.deepEqual(
      findScratchMappings(f.pid).map((m) => [m.start, m.tracer]),
      [[inj.stub - 0x40, process.pid]],
      'the scratch mapping is signed with our pid',
    );
    assert.ok(
      readMaps(f.pid).some((v) => v.start === inj.stub - 0x40 && v.exec && !v.write),
      'the stub page is r-x',
    );
    assert.equal(inj.call('getpid', SYS.getpid), f.pid);
    const addr = inj.mmap(1 << 20);
    assert.ok(mapped(f.pid, addr), 'the injected mapping appears in maps');
    inj.write(addr + 4096, Buffer.from('hello'));
    assert.equal(inj.read(addr + 4096, 5).toString(), 'hello');
    inj.munmap(addr);
    assert.ok(!mapped(f.pid, addr), 'munmap removed it');
    // scratch area: clock_gettime(CLOCK_MONOTONIC, scratch) writes a timespec there
    scratchAddr = inj.scratch.address;
    assert.equal(inj.call('clock_gettime', 228, 1, scratchAddr), 0);
    assert.ok(inj.read(scratchAddr, 8).readBigInt64LE() > 0n);
    assert.throws(
      () => inj.call('close', SYS.close, 99999),
      (e: unknown) => e instanceof PtraceError && e.code === 'EINJECT' && e.errno === 'EBADF',
    );
    inj.cure();
    assert.equal(frozen.regs(f.pid).get('rip'), rip);
  }
  assert.deepEqual(peek(f.pid, site, 64), code);
  assert.deepEqual(peek(f.pid, stackAt, stack.length), stack);
  assert.ok(!mapped(f.pid, scratchAddr), 'the scratch mapping is gone');
  assert.deepEqual(findScratchMappings(f.pid), []);
  assert.equal(await checksum(f, 2), before);
  await sleep(50);
  assert.match(f.state(), /^[SR]$/);
  assert.doesNotMatch(readFileSync(f.logFile, 'utf8'), /READ-RETURNED/, 'the interrupted read() restarted');
});

test('thaw cures an injector that was not cured, including its mappings', async () => {
  await using f = await Fixture.start('injectee', ['1']);
  const before = await checksum(f, 1);
  const site = readMaps(f.pid).find((v) => v.exec && !v.path.startsWith('['))!.start;
  const code = peek(f.pid, site, 64);
  const frozen = freeze(f.pid);
  const second = frozen.tids[1]!; // the second thread, in sigwait()
  const stackAt = stackArea(frozen.regs(second).address('rsp'));
  const stack = peek(f.pid, stackAt, 256);
  const inj = Injector.infect(frozen, second);
  const addr = inj.mmap(65536);
  const scratch = inj.scratch.address;
  assert.equal(inj.call('gettid', SYS.gettid), second);
  frozen.thaw();
  assert.equal(inj.infected, false);
  assert.ok(!mapped(f.pid, addr));
  assert.ok(!mapped(f.pid, scratch), "the second thread's scratch mapping is gone");
  assert.deepEqual(peek(f.pid, site, 64), code);
  assert.deepEqual(peek(f.pid, stackAt, 256), stack, "the second thread's stack area is restored");
  assert.throws(
    () => inj.syscall(SYS.getpid),
    (e: unknown) => e instanceof PtraceError && e.code === 'ESTATE',
  );
  assert.equal(await checksum(f, 2), before, 'the data is unchanged and the sigwait() thread still answers');
});

test('PTRACE_POKEDATA patching works as well; one injector at a time', async () => {
  await using f = await Fixture.start('injectee', ['1']);
  const before = await checksum(f, 1);
  const site = readMaps(f.pid).find((v) => v.exec && !v.path.startsWith('['))!.start;
  const code = peek(f.pid, site, 64);
  {
    using frozen = freeze(f.pid);
    using inj = Injector.infect(frozen, f.pid, undefined, 'pokedata');
    assert.deepEqual(peek(f.pid, site, 64), code, 'the site call wrote and restored the code word by word');
    assert.equal(inj.call('getpid', SYS.getpid), f.pid);
    assert.throws(
      () => Injector.infect(frozen, frozen.tids[1]!),
      (e: unknown) => e instanceof PtraceError && e.code === 'ESTATE',
    );
  }
  assert.deepEqual(peek(f.pid, site, 64), code);
  assert.equal(await checksum(f, 2), before);
});

test('a signal that arrives during an injected call is remembered and delivered at detach', async () => {
  await using f = await Fixture.start('injectee', ['1']);
  {
    using frozen = freeze(f.pid);
    syscall(SYS.tgkill, f.pid, f.pid, 12); // SIGUSR2 to the main thread, pending while it is stopped
    using inj = Injector.infect(frozen);
    assert.equal(inj.call('getpid', SYS.getpid), f.pid);
    assert.deepEqual(frozen.thread(f.pid)!.signals, [12], 'caught in a signal-delivery-stop');
    await sleep(30);
    assert.doesNotMatch(readFileSync(f.logFile, 'utf8'), /USR2/);
  }
  for (let i = 0; i < 300 && !/USR2/.test(readFileSync(f.logFile, 'utf8')); i++) await sleep(10);
  assert.match(readFileSync(f.logFile, 'utf8'), /USR2/, 'delivered after thaw');
  assert.doesNotMatch(readFileSync(f.logFile, 'utf8'), /READ-RETURNED/);
});

test('a target killed while infected: ESRCH, and thaw has nothing left to do', async () => {
  const f = await Fixture.start('injectee', ['1']);
  try {
    const frozen = freeze(f.pid);
    const inj = Injector.infect(frozen);
    f.signal(9);
    await sleep(50);
    assert.throws(
      () => inj.syscall(SYS.getpid),
      (e: unknown) => e instanceof PtraceError && e.code === 'ESRCH',
    );
    frozen.thaw();
    assert.equal(inj.infected, false);
    assert.notEqual(frozen.state, 'frozen');
  } finally {
    f.kill();
  }
  assert.equal(f.state(), '');
});

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
    const first = Injector.infect(frozen);
    assert.equal(first.call('getpid', SYS.getpid), f.pid);
    first.hold();
    assert.equal(first.infected, false, 'held only where the frozen process says a user follows');
    assert.deepEqual(findScratchMappings(f.pid), []);
    frozen.keepInfection = true;
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
