/**
 * An established TCP connection through `ckpt dump --tcp-established` (the client killed after the dump,
 * its socket closed in repair mode: no FIN, no reset) and a restore, the server being the test: what the
 * client had not read yet is read after the restore, what it had written but the server had not taken
 * (up to 8 MiB: unacked and unsent) arrives byte for byte, and the connection goes on (ping -> pong).
 * Without the flag the connection is refused up front. ckpt's dump restored by `criu restore
 * --tcp-established` too (CKPT_CRIU).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { finalDump } from '../dump/full/index.js';
import { DumpError } from '../dump/index.js';
import { kill as sysKill } from '../sys/index.js';
import {
  CKPT_CRIU,
  criuRestore,
  type Fixture,
  killRestored,
  logLines,
  NO_CRIU,
  Scratch,
  sleep,
} from '../testing/index.js';
import { killAndReap } from './reap.js';
import { restoreProcess } from './restore-process.js';

const scratch = new Scratch('ckpt-restore-tcp-');

/** Read from `sock` until `n` bytes came (or 20 s). */
function readBytes(sock: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const done = () => {
      sock.off('data', onData);
      clearTimeout(timer);
    };
    const onData = (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= n) {
        done();
        sock.pause();
        resolve(Buffer.concat(parts));
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${got} of ${n} bytes`));
    }, 20_000);
    sock.on('data', onData);
    sock.resume();
  });
}

/** A server of ours on loopback and the tcpconn fixture connected to it (its socket paused: not read). */
async function connected(): Promise<{ server: Server; f: Fixture; sock: Socket }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) =>
    server.once('connection', (s) => {
      s.pause();
      r(s);
    }),
  );
  const f = await scratch.start('tcpconn', ['127.0.0.1', String(port)]);
  return { server, f, sock: await accepted };
}

for (const restorer of ['ckpt', 'criu'] as const)
  test(`an established TCP connection goes through ckpt dump --tcp-established and a restore (${restorer}): unread bytes, unsent bytes, then more`, {
    skip: restorer === 'criu' ? NO_CRIU : false,
  }, async () => {
    const { server, f, sock } = await connected();
    try {
      const wrote = f.num('wrote');
      assert.ok(wrote > 64 * 1024, `the client wrote ${wrote} bytes`);
      sock.write('ping 1\n');
      await sleep(100);
      await assert.rejects(finalDump({ pid: f.pid, imagesDir: scratch.newDir() }), (e: unknown) => {
        assert.ok(e instanceof DumpError, String(e));
        assert.match(e.message, /a TCP connection \(ESTABLISHED; dump it with --tcp-established\)/);
        return true;
      });
      const dir = scratch.newDir();
      await finalDump({ pid: f.pid, imagesDir: dir, tcpEstablished: true });
      for (let i = 0; i < 500 && existsSync(`/proc/${f.pid}`); i++) await sleep(10);
      assert.equal(existsSync(`/proc/${f.pid}`), false, 'the dumped client is gone');
      assert.equal(readdirSync(dir).filter((n) => n.startsWith('tcp-stream-')).length, 1);
      if (restorer === 'ckpt') await restoreProcess({ imagesDir: dir });
      else {
        const r = criuRestore(CKPT_CRIU!, dir, ['--tcp-established']);
        assert.ok(r.ok, `criu restore failed: ${r.log}`);
      }
      sysKill(f.pid, 10); // read what waits: "ping 1", answer after the pattern
      const got = await readBytes(sock, wrote + 'pong 1\n'.length);
      let bad = -1;
      for (let i = 0; i < wrote && bad < 0; i++) if (got[i] !== ((i * 7 + 3) & 0xff)) bad = i;
      assert.equal(bad, -1, `the pattern differs at byte ${bad}`);
      assert.equal(got.subarray(wrote).toString(), 'pong 1\n');
      for (let i = 0; i < 100 && logLines(f, /^GOT /).length < 1; i++) await sleep(10);
      assert.deepEqual(logLines(f, /^GOT /), ['GOT ping 1'], 'what waited in its receive queue');
      sock.write('ping 2\n');
      await sleep(50);
      sysKill(f.pid, 10);
      assert.equal(
        (await readBytes(sock, 'pong 2\n'.length)).toString(),
        'pong 2\n',
        'the connection goes on',
      );
    } finally {
      sock.destroy();
      server.close();
      killRestored(f.pid);
      killAndReap(f.pid);
    }
  });

test('ckpt dump --tcp-established --leave-running: the connection goes on in the dumped process, untouched', async () => {
  const { server, f, sock } = await connected();
  try {
    const wrote = f.num('wrote');
    sock.write('ping 1\n');
    await sleep(100);
    await finalDump({ pid: f.pid, imagesDir: scratch.newDir(), tcpEstablished: true, leaveRunning: true });
    assert.match(f.state(), /^[RS]$/);
    sysKill(f.pid, 10);
    const got = await readBytes(sock, wrote + 'pong 1\n'.length);
    assert.equal(got.subarray(wrote).toString(), 'pong 1\n');
    sock.write('ping 2\n');
    await sleep(50);
    sysKill(f.pid, 10);
    assert.equal((await readBytes(sock, 'pong 2\n'.length)).toString(), 'pong 2\n');
  } finally {
    sock.destroy();
    server.close();
    f.kill();
  }
});

/** A client of `port` on 127.0.0.1, connected. */
function client(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const c = connect(port, '127.0.0.1', () => resolve(c));
    c.once('error', reject);
  });
}

/** `line` sent on `sock`; its one-line answer. */
async function ask(sock: Socket, line: string): Promise<string> {
  sock.write(`${line}\n`);
  const want = line.replace('ping', 'pong');
  return (await readBytes(sock, want.length + 1)).toString();
}

test('a server with --tcp-established: its accepted connection binds the port the listener holds, both go on after a restore', async () => {
  const f = await scratch.start('tcpserve', []);
  const port = f.num('port');
  const a = await client(port);
  try {
    assert.equal(await ask(a, 'ping 1'), 'pong 1\n');
    const dir = scratch.newDir();
    await finalDump({ pid: f.pid, imagesDir: dir, tcpEstablished: true });
    for (let i = 0; i < 500 && existsSync(`/proc/${f.pid}`); i++) await sleep(10);
    assert.equal(existsSync(`/proc/${f.pid}`), false, 'the dumped server is gone');
    await restoreProcess({ imagesDir: dir }); // EADDRINUSE when repair mode's forced reuse is taken back
    assert.equal(await ask(a, 'ping 2'), 'pong 2\n', 'the accepted connection goes on');
    const b = await client(port);
    try {
      assert.equal(await ask(b, 'ping 3'), 'pong 3\n', 'the listener accepts again');
    } finally {
      b.destroy();
    }
  } finally {
    a.destroy();
    killRestored(f.pid);
    killAndReap(f.pid);
  }
});
