/**
 * The sockets of a server between connections through a dump and a restore (socketed.c): TCP listeners
 * (IPv4 and IPv6) with their ports, backlogs and options, an unconnected TCP socket, a bound and connected
 * UDP socket; the listeners accept connections again. From ckpt's dump and (CKPT_CRIU) criu dump's, and
 * ckpt's dump restored by criu restore. What cannot be dumped yet (a TCP connection, a listener with
 * connections waiting) is refused (refuse.test.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
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

const scratch = new Scratch('ckpt-restore-sockets-');

for (const { dumper, restorer, skip } of TOOL_PAIRS)
  test(`TCP listeners, an unconnected TCP socket and a connected UDP socket come back with their ports, backlogs and options; the listeners accept again (${dumper} dump, ${restorer} restore)`, {
    skip,
  }, async () => {
    const dir = scratch.newDir();
    const f = await scratch.start('socketed', []);
    const [l4, l6] = [f.num('l4'), f.num('l6')];
    assert.equal(await readUntilClosed({ host: '127.0.0.1', port: l4 }), `hello ${l4}`);
    const before = await doneReport(f, /^(SOCK|PEER) /, 1, 5);
    await DUMPERS[dumper](f.pid, dir);
    f.kill();
    for (let i = 0; i < 500 && existsSync(`/proc/${f.pid}`); i++) await sleep(10);
    if (dumper === 'ckpt') {
      const socks = decodeImageOf(readFileSync(join(dir, 'files.img')), MAGIC.FILES)
        .map((x) => fileEntryCodec.decode(x))
        .filter((x) => x.type === FD_TYPE.INETSK)
        .map((x) => x.isk!);
      assert.deepEqual(
        socks.map((s) => [s.family, s.proto, s.state, s.src_port, s.backlog]),
        [
          [2, 6, 10, l4, 17],
          [10, 6, 10, l6, 5],
          [2, 17, 1, Number(before[2]!.split(' ')[3]), 0],
          [2, 6, 7, 0, 0],
        ],
        'family, protocol, state, port and backlog of each socket',
      );
      assert.deepEqual(socks[0]!.src_addr, [0x0100007f], '127.0.0.1 as CRIU stores it');
    }
    await RESTORERS[restorer](dir);
    try {
      assert.deepEqual(
        await doneReport(f, /^(SOCK|PEER) /, 2, 5),
        before,
        'the same sockets, ports and options',
      );
      assert.equal(await readUntilClosed({ host: '127.0.0.1', port: l4 }), `hello ${l4}`);
      assert.equal(await readUntilClosed({ host: '::1', port: l6 }), `hello ${l6}`);
    } finally {
      killRestored(f.pid);
      killAndReap(f.pid);
    }
  });
