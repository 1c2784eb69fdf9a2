import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Scratch } from '../testing/index.js';
import { freeze } from './freeze.js';
import { fixupSyscallRestart, GPREG_NAMES, type Gpregs, readThreadState } from './thread-state.js';

const scratch = new Scratch('ckpt-thread-state-test-');
const U64 = (v: bigint) => BigInt.asUintN(64, v);

function regs(ax: bigint, origAx: bigint, ip = 0x401002n): Gpregs {
  const r = Object.fromEntries(GPREG_NAMES.map((n) => [n, 0n])) as Gpregs;
  return { ...r, ax: U64(ax), orig_ax: U64(origAx), ip };
}

test('syscall-restart fixup as compel: re-enter on -ERESTART*, EINTR on -ERESTART_RESTARTBLOCK', () => {
  for (const code of [-512n, -513n, -514n]) {
    const r = regs(code, 0n);
    fixupSyscallRestart(r);
    assert.equal(r.ax, 0n);
    assert.equal(r.ip, 0x401000n);
  }
  const nanosleep = regs(-516n, 230n);
  fixupSyscallRestart(nanosleep);
  assert.equal(nanosleep.ax, U64(-4n));
  assert.equal(nanosleep.ip, 0x401002n);
  const notInSyscall = regs(-512n, -1n);
  fixupSyscallRestart(notInSyscall);
  assert.equal(notInSyscall.ax, U64(-512n));
  assert.equal(notInSyscall.ip, 0x401002n);
});

test('readThreadState: a thread blocked in read() is saved to re-enter it; FPU, TLS, rseq, robust list', async () => {
  const f = await scratch.start('injectee', ['1']);
  using frozen = freeze(f.pid);
  const raw = frozen.regs(f.pid);
  const s = readThreadState(frozen, f.pid);
  assert.equal(raw.getSigned('rax'), -512n); // -ERESTARTSYS: read() interrupted by the freeze
  assert.equal(s.gpregs.ax, 0n); // __NR_read, re-entered on restore
  assert.equal(s.gpregs.ip, raw.get('rip') - 2n);
  assert.equal(s.gpregs.fs_base, raw.get('fs_base'));
  assert.equal(s.fpregs.st_space.length, 32);
  assert.equal(s.fpregs.xmm_space.length, 64);
  assert.equal(s.fpregs.mxcsr & 0xffc0, 0x1f80); // default masks
  assert.deepEqual(
    s.tls.map((d) => d.entry_number),
    [12, 13, 14],
  );
  assert.equal(s.robustList.len, 24); // glibc registers a robust list for every thread
  assert.ok(s.robustList.head !== 0n);
  if (s.rseq) assert.equal(s.rseq.size >= 20, true);
  // injectee blocks SIGUSR1 in every thread
  assert.equal(s.blocked & (1n << 9n), 1n << 9n);
});
