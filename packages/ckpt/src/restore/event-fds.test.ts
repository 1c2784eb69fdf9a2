/**
 * Eventfds, epoll instances, timerfds and signalfds through a dump and a restore (evented.c: what an
 * event loop holds): the counter, the flags, every watched file with its events and data, a nested
 * epoll, edge-triggered registrations; relative and absolute timers with the time left, an unread
 * expiration; a signalfd's mask and the signal pending for it; from ckpt's dump and (CKPT_CRIU) criu dump's, and ckpt's dump restored by criu restore.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeImageOf, FD_TYPE, fileEntryCodec, MAGIC } from '../images/index.js';
import {
  critDecodesAll,
  DUMPERS,
  doneReport,
  killRestored,
  RESTORERS,
  Scratch,
  sleep,
  TOOL_PAIRS,
} from '../testing/index.js';
import { killAndReap } from './reap.js';

const scratch = new Scratch('ckpt-restore-events-');

for (const { dumper, restorer, skip } of TOOL_PAIRS)
  test(`eventfds, epolls, timerfds and signalfds come back: counters, flags, watched files with their events and data, time left, unread expirations, masks (${dumper} dump, ${restorer} restore)`, {
    skip,
  }, async (t) => {
    const dir = scratch.newDir();
    const f = await scratch.start('evented', []);
    const [a, b, p, w, e, n] = ['a', 'b', 'p', 'w', 'e', 'n'].map((k) => f.num(k));
    await DUMPERS[dumper](f.pid, dir);
    f.kill();
    for (let i = 0; i < 500 && existsSync(`/proc/${f.pid}`); i++) await sleep(10);
    const files = decodeImageOf(readFileSync(join(dir, 'files.img')), MAGIC.FILES).map((x) =>
      fileEntryCodec.decode(x),
    );
    assert.ok(
      files.some((x) => x.tfd && BigInt(x.tfd.ticks) === 1n),
      'the expired one-shot timerfd has an unread expiration in the image',
    );
    if (dumper === 'ckpt') {
      assert.deepEqual(
        files.filter((x) => x.tfd).map((x) => [x.tfd!.clockid, x.tfd!.settime_flags, x.tfd!.isec]),
        [
          [1, 0, 1000n],
          [0, 1, 0n],
          [1, 0, 0n],
        ],
        'the timerfds: clock, TFD_TIMER_ABSTIME, interval',
      );
      assert.deepEqual(
        files.filter((x) => x.sgfd).map((x) => x.sgfd!.sigmask),
        [1n << 11n],
        "the signalfd's mask: SIGUSR2",
      );
      const efds = files.filter((x) => x.type === FD_TYPE.EVENTFD).map((x) => x.efd!.counter);
      assert.deepEqual(efds, [7n, 0n], 'the eventfds and their counters');
      const epolls = files.filter((x) => x.type === FD_TYPE.EVENTPOLL);
      assert.deepEqual(
        epolls.map((x) =>
          (x.epfd!.tfd ?? []).map((w) => [w.tfd, w.events, w.data]).sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
        ),
        [
          [
            [a, 0x19, 0xa11cen], // EPOLLIN, and EPOLLERR | EPOLLHUP the kernel adds
            [p, 0x80000019, 42n], // EPOLLET | EPOLLIN
            [b, 0x1c, 0xb0b0b0b0b0bn], // EPOLLOUT
          ],
          [[e, 0x19, 99n]],
        ].map((l) => l.sort((x, y) => (x[0]! < y[0]! ? -1 : 1))),
        'the epoll instances and what they watch',
      );
      critDecodesAll(t, dir);
    }
    await RESTORERS[restorer](dir);
    try {
      assert.deepEqual(await doneReport(f, /^(EV|NEST|FL|EFD|TFD|TICKS|SFD) /), [
        'EV 2a 1',
        'EV a11ce 1',
        'EV b0b0b0b0b0b 4',
        'NEST 99 1',
        `FL ${a} 4002 0`,
        `FL ${b} 2 1`,
        `FL ${p} 0 0`,
        `FL ${w} 1 0`,
        `FL ${e} 2 0`,
        `FL ${n} 2 1`,
        'EFD 7',
        'TFD t 4 1000',
        'TFD u 6 0',
        'TICKS 1',
        'SFD 12',
      ]);
    } finally {
      killRestored(f.pid);
      killAndReap(f.pid);
    }
  });
