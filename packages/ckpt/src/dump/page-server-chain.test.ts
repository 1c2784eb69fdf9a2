/**
 * Pre-dump chains through a page server over loopback, end to end on real processes: separate pre-dumps
 * chained with --prev-images-dir into a `--daemon` server (memory tracking on, PE_PARENT holes planned
 * from the parent's ckpt-sent.json), then a frozen end; `preDumpIterations` with a connection per
 * iteration; a server whose parent lacks the process (no hole may reach it); a process tree in one session.
 * Every page resolved through the SERVER's chain must equal the target's memory.
 */
import assert from 'node:assert/strict';
import { existsSync, readlinkSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { verifyImages } from '../cli/verify.js';
import { ImageDir } from '../images/index.js';
import { uffdWpUnsupportedReason } from '../mem/index.js';
import { PAGE_SIZE } from '../sys/index.js';
import { countUserfaultfds, Fixture, Scratch, skipUnlessAvailable, Writer } from '../testing/index.js';
import { PageServerClient } from '../xfer/page-client.js';
import { PageServer } from '../xfer/page-server.js';
import { PE_WIRE, PS } from '../xfer/wire.js';
import { type ChainCheckResult, checkChain } from './chain-check.js';
import { preDumpIterations } from './iterations.js';
import { preDump } from './pre-dump.js';
import { readSentPages, SENT_PAGES_FILE } from './sent-pages.js';

const noUffd = skipUnlessAvailable('uffd-wp', uffdWpUnsupportedReason());
const scratch = new Scratch('ckpt-ps-chain-test-');
const { root } = scratch;

/** The writer fixture (pages written at a steady rate by 2 threads) and its command function. */
async function writer(): Promise<{ f: Fixture; cmd: (line: string) => Promise<string> }> {
  const w = await Writer.start(scratch, 16, 2, 100, true);
  return { f: w.f, cmd: (line: string) => w.cmd(line) };
}

async function connect(port: number): Promise<PageServerClient> {
  return PageServerClient.connect({ address: '127.0.0.1', port, keepOpen: true });
}

describe('pre-dump chains through a page server', () => {
  it('3 tracked pre-dumps into a --daemon server, then a frozen end: the server chain equals memory', {
    skip: noUffd ?? false,
  }, async () => {
    const { f, cmd } = await writer();
    const srvDir = join(root, 'daemon');
    const server = await PageServer.listen({ dir: srvDir, address: '127.0.0.1', port: 0, daemon: true });
    try {
      const results = [];
      for (let k = 1; k <= 3; k++) {
        if (k > 1) await cmd('w 30');
        results.push(
          await preDump({
            pid: f.pid,
            imagesDir: join(root, 'd', String(k)),
            prevImagesDir: k > 1 ? `../${k - 1}` : undefined,
            sink: await connect(server.port),
            trackMem: 'auto',
          }),
        );
        assert.ok(existsSync(join(root, 'd', String(k), SENT_PAGES_FILE)));
        assert.ok(existsSync(join(root, 'd', String(k), 'inventory.img')));
        assert.equal(existsSync(join(root, 'd', String(k), `pagemap-${f.pid}.img`)), false);
      }
      assert.equal(results[0]!.pagesSkippedParent, 0);
      for (const r of results.slice(1)) {
        assert.equal(r.tasks[0]!.mode, 'incremental');
        assert.ok(r.pagesSkippedParent! > 1000, `${r.pagesSkippedParent} hole pages`);
      }
      await cmd('w 30');
      let cmp: ChainCheckResult | undefined;
      const end = await preDump({
        pid: f.pid,
        imagesDir: join(root, 'd', '4'),
        prevImagesDir: '../3',
        sink: await connect(server.port),
        trackMem: 'auto',
        freeze: true,
        afterCommit: () => {
          cmp = checkChain(f.pid, join(srvDir, '4'));
        },
      });
      assert.equal(end.tasks[0]!.mode, 'incremental');
      assert.ok(cmp);
      assert.equal(cmp.mismatched, 0);
      assert.equal(cmp.missing, 0);
      assert.ok(cmp.pages >= 4096, `${cmp.pages} pages compared`);
      assert.equal(readlinkSync(join(srvDir, '4', 'parent')), '../3');
      assert.deepEqual(verifyImages(join(srvDir, '4')).problems, []);
      assert.equal(countUserfaultfds(f.pid), 0, 'tracking ended with the frozen end');
    } finally {
      await server.close();
    }
    const reports = await server.finished;
    assert.deepEqual(
      reports.map((r) => r.ok),
      [true, true, true, true],
    );
  });

  it('--iterations: a connection per iteration, the chain in DIR/1..3 on the server', {
    skip: noUffd ?? false,
  }, async () => {
    const { f } = await writer();
    const srvDir = join(root, 'iter-srv');
    const server = await PageServer.listen({ dir: srvDir, address: '127.0.0.1', port: 0, daemon: true });
    const opened: number[] = [];
    try {
      let cmp: ChainCheckResult | undefined;
      const rs = await preDumpIterations({
        pid: f.pid,
        imagesDir: join(root, 'iter'),
        iterations: 3,
        intervalMs: 50,
        trackMem: 'auto',
        freeze: true,
        openSink: (k) => {
          opened.push(k);
          return connect(server.port);
        },
        afterCommit: () => {
          cmp = checkChain(f.pid, join(srvDir, '3'));
        },
      });
      assert.deepEqual(opened, [1, 2, 3]);
      assert.equal(rs.length, 3);
      assert.ok(rs[1]!.pagesSkippedParent! > 0 && rs[2]!.pagesSkippedParent! > 0);
      assert.ok(cmp);
      assert.equal(cmp.mismatched, 0);
      assert.equal(cmp.missing, 0);
      assert.deepEqual(verifyImages(join(srvDir, '3')).problems, []);
    } finally {
      await server.close();
    }
    assert.equal((await server.finished).filter((r) => r.ok).length, 3);
  });

  it('sends parent pages as data when the server has no parent for the process (never a refused hole)', {
    skip: noUffd ?? false,
  }, async () => {
    const { f, cmd } = await writer();
    const first = await PageServer.listen({ dir: join(root, 'np-1'), address: '127.0.0.1', port: 0 });
    await preDump({
      pid: f.pid,
      imagesDir: join(root, 'np', '1'),
      sink: await connect(first.port),
      trackMem: 'auto',
    });
    assert.equal((await first.finished)[0]!.ok, true);
    const covered = readSentPages(join(root, 'np', '1')).get(f.pid);
    assert.ok(covered && covered.length > 0);
    await cmd('w 30');
    // a server without any parent: the local chain says "holes", the server's OPEN2 says has_parent 0
    const second = await PageServer.listen({ dir: join(root, 'np-2'), address: '127.0.0.1', port: 0 });
    let cmp: ChainCheckResult | undefined;
    const r = await preDump({
      pid: f.pid,
      imagesDir: join(root, 'np', '2'),
      prevImagesDir: '../1',
      sink: await connect(second.port),
      trackMem: 'auto',
      freeze: true,
      afterCommit: () => {
        cmp = checkChain(f.pid, join(root, 'np-2'));
      },
    });
    const [rep] = await second.finished;
    assert.equal(rep!.ok, true, rep!.error?.message);
    assert.equal(r.pagesSkippedParent, 0);
    assert.match(r.tasks[0]!.fallback ?? '', /no parent pagemap/);
    assert.ok(cmp);
    assert.equal(cmp.mismatched, 0);
    assert.equal(cmp.missing, 0);
  });

  it('a server whose parent is not our previous iteration refuses the hole: the dump fails, nothing is committed', {
    skip: noUffd ?? false,
  }, async () => {
    const { f, cmd } = await writer();
    // an older set of the same process, taken before a new mapping appeared
    const old = await PageServer.listen({ dir: join(root, 'wp-old'), address: '127.0.0.1', port: 0 });
    await preDump({ pid: f.pid, sink: await connect(old.port) });
    assert.equal((await old.finished)[0]!.ok, true);
    await cmd('m 32');
    const one = await PageServer.listen({ dir: join(root, 'wp-1'), address: '127.0.0.1', port: 0 });
    await preDump({
      pid: f.pid,
      imagesDir: join(root, 'wp', '1'),
      sink: await connect(one.port),
      trackMem: 'auto',
    });
    assert.equal((await one.finished)[0]!.ok, true);
    // the server is pointed at the older set: it has the process (has_parent 1) but not the new mapping
    const two = await PageServer.listen({
      dir: join(root, 'wp-2'),
      address: '127.0.0.1',
      port: 0,
      prevImagesDir: '../wp-old',
    });
    await assert.rejects(
      preDump({
        pid: f.pid,
        imagesDir: join(root, 'wp', '2'),
        prevImagesDir: '../1',
        sink: await connect(two.port),
        trackMem: 'auto',
      }),
      /page server 127\.0\.0\.1:\d+ (dropped the session|closed the connection)/,
    );
    const [rep] = await two.finished;
    assert.equal(rep!.ok, false);
    assert.match(rep!.error?.message ?? '', /not in the parent image set/);
    assert.equal(existsSync(join(root, 'wp', '2', 'inventory.img')), false);
    assert.ok(ImageDir.open(join(root, 'wp', '2')).incompleteReason);
    assert.equal(existsSync(join(root, 'wp-2', `pagemap-${f.pid}.img`)), false);
    assert.doesNotMatch(f.state(), /^[Tt]$/);
  });

  it('a failed CLOSE fails the dump: the local set stays incomplete', async () => {
    await using f = await Fixture.start('static', ['1']);
    // a page server that takes everything and then answers CLOSE with status 1 (real socket, real client)
    const srv = createServer((c) => {
      let buf = Buffer.alloc(0);
      let skip = 0;
      c.on('data', (b: Buffer) => {
        buf = Buffer.concat([buf, b]);
        for (;;) {
          const n = Math.min(skip, buf.length);
          buf = buf.subarray(n);
          skip -= n;
          if (skip > 0 || buf.length < 32) return;
          const cmd = buf.readUInt32LE(0);
          const pages = Number(buf.readBigUInt64LE(8));
          buf = buf.subarray(32);
          const op = cmd & 0xffff;
          if (op === PS.IOV_PARENT) c.write(Buffer.alloc(4));
          else if (op === PS.IOV_OPEN2) c.write(Buffer.alloc(1));
          else if (op === PS.IOV_ADD_F && (cmd >>> 16) & PE_WIRE.PRESENT) skip = pages * PAGE_SIZE;
          else if (op === PS.IOV_CLOSE) {
            const st = Buffer.alloc(4);
            st.writeInt32LE(1);
            c.write(st);
          }
        }
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    const dir = join(root, 'bad-close');
    try {
      await assert.rejects(
        preDump({ pid: f.pid, imagesDir: dir, sink: await connect(port) }),
        /failed to close the images \(status 1\)/,
      );
    } finally {
      srv.close();
    }
    assert.equal(existsSync(join(dir, 'inventory.img')), false);
    assert.match(ImageDir.open(dir).incompleteReason ?? '', /status 1/);
  });

  it('a process tree shares one session (one OPEN2 per process, one CLOSE)', async () => {
    await using f = await Fixture.start('mt', ['2', '2', '2']);
    const pids = [f.pid, f.num('child0'), f.num('child1')];
    const srvDir = join(root, 'tree-srv');
    const server = await PageServer.listen({ dir: srvDir, address: '127.0.0.1', port: 0 });
    const r = await preDump({ pid: f.pid, imagesDir: join(root, 'tree'), sink: await connect(server.port) });
    const [rep] = await server.finished;
    assert.equal(rep!.ok, true, rep!.error?.message);
    assert.equal(r.processes, 3);
    assert.ok(existsSync(join(root, 'tree', 'inventory.img')));
    for (const pid of pids) {
      assert.ok(existsSync(join(srvDir, `pagemap-${pid}.img`)), `pagemap of ${pid}`);
      // mt does not write after READY: the images equal memory although it runs
      const cmp = checkChain(pid, srvDir);
      assert.equal(cmp.mismatched, 0, `process ${pid}`);
      assert.equal(cmp.missing, 0, `process ${pid}`);
      assert.ok(cmp.pages >= 512, `process ${pid}: ${cmp.pages} pages`);
    }
    assert.deepEqual(verifyImages(srvDir).problems, []);
  });
});
