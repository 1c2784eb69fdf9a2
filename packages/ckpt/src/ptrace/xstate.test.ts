/**
 * Injection leaves the extended register state exact: the xstate fixture keeps known values in ymm0-14,
 * zmm16-31 and k2 (AVX-512 where the CPU has it), MXCSR and the x87 control word, and checks them in a
 * register-only loop. First a control (one xmm byte changed through PTRACE_SETREGSET: the fixture must
 * notice), then repeated injections on both paths (the target's own `syscall; ret` + rt_sigreturn frame,
 * and a stub patched at the site): the loop goes on, nothing noticed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { getXstate, SYS, setXstate } from '../sys/index.js';
import { Fixture } from '../testing/index.js';
import { freeze, Injector, RemoteMemory } from './index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The fixture keeps values in ymm registers: AVX2 is needed. */
const noAvx2 = /\bavx2\b/.test(readFileSync('/proc/cpuinfo', 'utf8')) ? false : 'the CPU has no AVX2';
/** Offset of xmm0 in the legacy region of the XSAVE area. */
const XMM0 = 160;

function rounds(f: Fixture): bigint {
  using mem = RemoteMemory.open(f.pid);
  return mem.read(f.num('counter'), 8).readBigUInt64LE(0);
}

async function changed(f: Fixture): Promise<string | undefined> {
  for (let i = 0; i < 50; i++) {
    const m = /XSTATE-CHANGED reg=(\d+)/.exec(readFileSync(f.logFile, 'utf8'));
    if (m) return m[1];
    await sleep(10);
  }
  return undefined;
}

test('control: a changed xmm byte is noticed by the xstate fixture', { skip: noAvx2 }, async () => {
  await using f = await Fixture.start('xstate', []);
  await sleep(20);
  {
    using frozen = freeze(f.pid);
    const xs = getXstate(f.pid);
    xs[XMM0 + 3 * 16 + 5]! ^= 0x40;
    setXstate(f.pid, xs);
    frozen.thaw();
  }
  assert.equal(await changed(f), '3');
});

for (const patchSite of [false, true]) {
  test(`injection leaves ymm/zmm/opmask, MXCSR and the x87 control word exact (${patchSite ? 'stub patched at the site' : "the target's own syscall; ret + rt_sigreturn"})`, {
    skip: noAvx2,
  }, async () => {
    await using f = await Fixture.start('xstate', []);
    await sleep(20);
    for (let i = 0; i < 10; i++) {
      using frozen = freeze(f.pid);
      using inj = Injector.infect(frozen, f.pid, undefined, undefined, { patchSite });
      assert.equal(inj.syscall(SYS.getpid), f.pid);
      const a = inj.mmap(65536);
      inj.write(a, Buffer.from('x'));
      inj.munmap(a);
      inj.cure();
      frozen.thaw();
      await sleep(5);
    }
    const r0 = rounds(f);
    await sleep(50);
    assert.equal(await changed(f).then((c) => c ?? 'none'), 'none', 'the fixture noticed nothing');
    assert.ok(rounds(f) > r0, 'its check loop runs on');
    assert.match(f.state(), /^[RS]$/);
  });
}
