/**
 * checkChain and the bytes the kernel rewrites by itself: a thread's rseq area gets its cpu_id fields
 * written whenever the thread returns to user space on another CPU, so a target that "does not change"
 * still differs there from an earlier dump. Those bytes count as kernelWritten, never as a mismatch; any
 * other difference still does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { test } from 'node:test';
import { freeze, RemoteMemory } from '../ptrace/index.js';
import { getRseqConfig } from '../sys/index.js';
import { Scratch } from '../testing/index.js';
import { checkChain } from './chain-check.js';
import { preDump } from './pre-dump.js';

function rseqArea(pid: number): number | undefined {
  using _f = freeze(pid);
  const c = getRseqConfig(pid);
  return c && c.size > 0 ? Number(c.pointer) : undefined;
}

/** Move thread `tid` to another CPU and make it return to user space there (a freeze and thaw). */
function migrate(tid: number, cpu: number): void {
  const r = spawnSync('taskset', ['-p', '-c', String(cpu), String(tid)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  using f = freeze(tid);
  f.thaw();
}

const why =
  cpus().length < 2
    ? 'one CPU: a thread cannot change CPUs'
    : spawnSync('taskset', ['-V']).error
      ? 'no taskset'
      : false;

const s = new Scratch('ckpt-chain-check-');

test('rseq bytes rewritten by the kernel count as kernelWritten; other changed bytes still mismatch', {
  skip: why,
}, async (t) => {
  const fx = await s.start('static', ['1']);
  const area = rseqArea(fx.pid);
  if (area === undefined) {
    t.skip('glibc registered no rseq area for the fixture');
    return;
  }
  const dir = s.newDir();
  migrate(fx.pid, 0);
  await preDump({ pid: fx.pid, imagesDir: dir, freeze: true });
  const cpuOf = () => {
    using m = RemoteMemory.open(fx.pid);
    return m.read(area + 4, 4).readUInt32LE(0);
  };
  const before = cpuOf();
  // the thread returns to user space on the new CPU when the scheduler runs it: wait for that
  for (let i = 0; i < 200 && cpuOf() === before; i++) {
    migrate(fx.pid, before === 0 ? 1 : 0);
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.notEqual(cpuOf(), before, 'the kernel rewrote cpu_id in the rseq area');
  {
    using _f = freeze(fx.pid);
    const c = checkChain(fx.pid, dir);
    assert.equal(c.mismatched, 0, `bad at ${c.firstBad.map((a) => a.toString(16))}`);
    assert.equal(c.kernelWritten, 1);
  }
  // a byte of ours changed next to the area: a mismatch again
  {
    using f = freeze(fx.pid);
    using m = RemoteMemory.open(fx.pid);
    const at = area + 64;
    const b = m.read(at, 1);
    b[0] = b[0]! ^ 0xff;
    m.write(at, b);
    const c = checkChain(fx.pid, dir);
    assert.equal(c.mismatched, 1);
    b[0] = b[0]! ^ 0xff;
    m.write(at, b);
    f.thaw();
  }
});
