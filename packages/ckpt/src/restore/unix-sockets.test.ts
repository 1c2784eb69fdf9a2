/**
 * Unix sockets through a dump and a restore (unixed.c): stream and seqpacket socketpairs with what is
 * queued in them (message boundaries kept) and a shut-down end, a listener bound to a path (its file
 * mode kept) and one bound to an abstract name, both accepting again, an unbound socket. From ckpt's
 * dump and (CKPT_CRIU) criu dump's, and ckpt's dump restored by criu restore.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeImageOf, FD_TYPE, fileEntryCodec, MAGIC } from '../images/index.js';
import {
  DUMPERS,
  doneReport,
  killRestored,
  RESTORERS,
  readUntilClosed,
  Scratch,
  sleep,
  TOOL_PAIRS,
} from '../testing/index.js';
import { killAndReap } from './reap.js';

const scratch = new Scratch('ckpt-restore-unix-');

for (const { dumper, restorer, skip } of TOOL_PAIRS)
  test(`unix socketpairs with their queued data, listeners on a path and an abstract name, an unbound socket come back; the listeners take connections again (${dumper} dump, ${restorer} restore)`, {
    skip,
  }, async () => {
    const dir = scratch.newDir();
    const sockDir = scratch.newDir();
    mkdirSync(sockDir, { recursive: true });
    const path = join(sockDir, 'ctl.sock');
    const f = await scratch.start('unixed', [path]);
    assert.equal(await readUntilClosed({ path }), 'hi l');
    await DUMPERS[dumper](f.pid, dir);
    f.kill();
    for (let i = 0; i < 500 && existsSync(`/proc/${f.pid}`); i++) await sleep(10);
    if (dumper === 'ckpt') {
      const socks = decodeImageOf(readFileSync(join(dir, 'files.img')), MAGIC.FILES)
        .map((x) => fileEntryCodec.decode(x))
        .filter((x) => x.type === FD_TYPE.UNIXSK)
        .map((x) => x.usk!);
      assert.deepEqual(
        socks.map((s) => [s.type, s.state, s.backlog, s.shutdown]),
        [
          [1, 1, 0, 1], // s0: the kernel marks the peer of a SHUT_WR end RCV_SHUTDOWN
          [1, 1, 0, 2],
          [5, 1, 0, 0],
          [5, 1, 0, 0],
          [1, 10, 9, 0],
          [1, 10, 3, 0],
          [1, 7, 0, 0],
        ],
        'type, state, backlog and shutdown of each socket',
      );
      assert.ok(existsSync(join(dir, 'sk-queues.img')), 'the queued packets are in sk-queues.img');
    }
    await RESTORERS[restorer](dir);
    try {
      assert.deepEqual(await doneReport(f, /^(S0|S1|Q0|L|A|U|FL) /), [
        'S0 ping',
        'S0 EOF',
        'S1 pong!',
        'Q0 one',
        'Q0 three',
        `L ${path} 640 1`,
        `A ckpt-unixed-${f.pid} 1`,
        'U 1 0',
        'FL s0 0',
        'FL s1 0',
        'FL q0 0',
        'FL l 1',
        'FL a 1',
        'FL u 0',
      ]);
      assert.equal(await readUntilClosed({ path }), 'hi l');
    } finally {
      killRestored(f.pid);
      killAndReap(f.pid);
    }
  });
