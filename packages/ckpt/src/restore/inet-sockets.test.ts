/**
 * The sockets of a server between connections through a dump and a restore (socketed.c): TCP listeners
 * (IPv4 and IPv6) with their ports, backlogs and options, an unconnected TCP socket, a bound and connected
 * UDP socket; the listeners accept connections again. From ckpt's dump and (CKPT_CRIU) criu dump's, and
 * ckpt's dump restored by criu restore. What cannot be dumped yet (a TCP connection, a listener with
 * connections waiting) is refused (refuse.test.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeImageOf, FD_TYPE, fileEntryCodec, MAGIC } from '../images/index.js';
import { kill as sysKill } from '../sys/index.js';
import {
  DUMPERS,
  type Fixture,
  killRestored,
  logLines,
  RESTORERS,
  Scratch,
  sleep,
  TOOL_PAIRS,
} from '../testing/index.js';
import { killAndReap } from './reap.js';

const scratch = new Scratch('ckpt-restore-sockets-');

/** SIGUSR1: the `n`-th report's SOCK and PEER lines. */
async function report(f: Fixture, n: number): Promise<string[]> {
  sysKill(f.pid, 10);
  for (let i = 0; i < 300 && logLines(f, /^DONE/).length < n; i++) await sleep(10);
  assert.equal(
    logLines(f, /^DONE/).length,
    n,
    `no report ${n}: ${readFileSync(f.logFile, 'utf8').slice(-300)}`,
  );
  return logLines(f, /^(SOCK|PEER) /).slice(5 * (n - 1), 5 * n);
}

/** Connect to host:port and read what the fixture writes before it closes. */
function hello(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      got += d;
    });
    s.on('end', () => resolve(got.trim()));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error(`no answer from ${host}:${port}`)));
  });
}

for (const { dumper, restorer, skip } of TOOL_PAIRS)
  test(`TCP listeners, an unconnected TCP socket and a connected UDP socket come back with their ports, backlogs and options; the listeners accept again (${dumper} dump, ${restorer} restore)`, {
    skip,
  }, async () => {
    const dir = scratch.newDir();
    const f = await scratch.start('socketed', []);
    const [l4, l6] = [f.num('l4'), f.num('l6')];
    assert.equal(await hello('127.0.0.1', l4), `hello ${l4}`);
    const before = await report(f, 1);
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
      assert.deepEqual(await report(f, 2), before, 'the same sockets, ports and options');
      assert.equal(await hello('127.0.0.1', l4), `hello ${l4}`);
      assert.equal(await hello('::1', l6), `hello ${l6}`);
    } finally {
      killRestored(f.pid);
      killAndReap(f.pid);
    }
  });
