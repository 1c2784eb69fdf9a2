/**
 * POSIX timers through a dump and a restore (timers.c: id 0 deleted, a ticking SIGEV_SIGNAL timer with a
 * value, a far SIGEV_NONE timer, a SIGEV_THREAD_ID timer ticking in the worker): the same ids, events and
 * clocks (/proc/PID/timers equal), the handlers tick again, the far timer counted on. From ckpt's dump
 * and (CKPT_CRIU) criu dump's, and ckpt's dump restored by criu restore.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { coreEntryCodec, decodeImageOf, MAGIC } from '../images/index.js';
import { kill as sysKill } from '../sys/index.js';
import { DUMPERS, type Fixture, killRestored, RESTORERS, Scratch, TOOL_PAIRS } from '../testing/index.js';
import { killAndReap } from './reap.js';

const scratch = new Scratch('ckpt-restore-timers-');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines = (f: Fixture, re: RegExp) =>
  readFileSync(f.logFile, 'utf8')
    .split('\n')
    .filter((l) => re.test(l));

/** SIGUSR1: [ticks1, value, ticks3, wrong3, timer2 value ns, timer2 interval ns] of the n-th report. */
async function report(f: Fixture, n: number): Promise<number[]> {
  sysKill(f.pid, 10);
  for (let i = 0; i < 300 && lines(f, /^TIMER2 /).length < n; i++) await sleep(10);
  const ticks = lines(f, /^TICKS /)[n - 1];
  const t2 = lines(f, /^TIMER2 /)[n - 1];
  assert.ok(ticks && t2, `no report ${n}`);
  return [...ticks.split(' ').slice(1), ...t2.split(' ').slice(1)].map(Number);
}

for (const { dumper, restorer, skip } of TOOL_PAIRS)
  test(`POSIX timers come back with their ids, events and values; their handlers tick (${dumper} dump, ${restorer} restore)`, {
    skip,
  }, async () => {
    const dir = scratch.newDir();
    const f = await scratch.start('timers', []);
    const worker = f.num('worker');
    assert.deepEqual([f.num('t1'), f.num('t2'), f.num('t3')], [1, 2, 3]);
    await sleep(100);
    const [ticks1, , ticks3] = await report(f, 1);
    const procTimers = readFileSync(`/proc/${f.pid}/timers`, 'utf8');
    await DUMPERS[dumper](f.pid, dir);
    f.kill();
    for (let i = 0; i < 500 && existsSync(`/proc/${f.pid}`); i++) await sleep(10);
    const core = coreEntryCodec.decode(
      decodeImageOf(readFileSync(join(dir, `core-${f.pid}.img`)), MAGIC.CORE)[0]!,
    );
    const posix = [...(core.tc!.timers!.posix ?? [])].sort((a, b) => a.it_id - b.it_id);
    assert.deepEqual(
      posix.map((p) => [p.it_id, p.clock_id, p.si_signo, p.it_sigev_notify, Number(p.sival_ptr)]),
      [
        [1, 1, 35, 0, 4242],
        [2, 0, 0, 1, 0],
        [3, 1, 36, 4, 0],
      ],
    );
    assert.equal(posix[2]!.notify_thread_id, worker);
    assert.equal(posix[1]!.isec, 500n);
    const far = Number(posix[1]!.vsec) * 1e9 + Number(posix[1]!.vnsec);
    assert.ok(far > 900e9 && far <= 1000e9, `timer 2's value ${far}`);
    await RESTORERS[restorer](dir);
    try {
      assert.equal(readFileSync(`/proc/${f.pid}/timers`, 'utf8'), procTimers, '/proc/PID/timers');
      await sleep(200);
      const [t1, value, t3, wrong, v2, i2] = await report(f, 2);
      assert.ok(t1! > ticks1! + 3, `timer 1 ticks again (${ticks1} -> ${t1})`);
      assert.equal(value, 4242, "timer 1's signal carries its value");
      assert.ok(t3! > ticks3! + 2, `timer 3 ticks in the worker again (${ticks3} -> ${t3})`);
      assert.equal(wrong, 0, 'timer 3 signals only the worker');
      assert.equal(i2, 500e9);
      assert.ok(v2! <= far && v2! > far - 60e9, `timer 2 counted on from ${far}: ${v2}`);
    } finally {
      killRestored(f.pid);
      killAndReap(f.pid);
    }
  });
