import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ImageDir, INCOMPLETE_MARKER, PagemapReader, PE, resolvePage } from '../images/index.js';
import { LocalSink } from './local.js';
import { PageServerClient } from './page-client.js';
import { PageServer } from './page-server.js';
import type { PageSink } from './sink.js';
import { encodeDstId, encodePsHeader, PS } from './wire.js';
import { decodeChecksums } from './wire-checksums.js';

const root = mkdtempSync(join(tmpdir(), 'ckpt-ps-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => join(root, `${name}-${++n}`);

/** A synthetic task memory: ranges of pages with content derived from (seed, vaddr), and holes. */
type Piece =
  | { kind: 'data'; vaddr: number; nrPages: number }
  | { kind: 'hole'; vaddr: number; nrPages: number };

function content(seed: number, vaddr: number, nrPages: number): Buffer {
  const b = Buffer.allocUnsafe(nrPages * 4096);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(((vaddr + i) * 2654435761 + seed) >>> 0, i);
  return b;
}

const PIECES: Piece[] = [
  { kind: 'data', vaddr: 0x400000, nrPages: 1 },
  { kind: 'data', vaddr: 0x401000, nrPages: 3 },
  { kind: 'hole', vaddr: 0x404000, nrPages: 2 },
  { kind: 'data', vaddr: 0x7f0000000000, nrPages: 300 },
  { kind: 'data', vaddr: 0x7f0000200000, nrPages: 1024 },
  { kind: 'hole', vaddr: 0x7ffd00000000, nrPages: 5 },
  { kind: 'data', vaddr: 0x7ffd00005000, nrPages: 2 },
];

/** Feed pieces to a sink as a dump would: one buffer at a time, flush after each. */
async function produce(sink: PageSink, pid: number, pieces: Piece[], seed = 1): Promise<void> {
  await sink.begin(pid);
  for (const p of pieces) {
    if (p.kind === 'hole') sink.addHole(p.vaddr, p.nrPages);
    else sink.addPages(p.vaddr, p.nrPages, content(seed, p.vaddr, p.nrPages));
    await sink.flush();
  }
  await sink.end();
}

async function localDump(pid: number, pieces: Piece[], seed = 1): Promise<string> {
  const dir = fresh('local');
  const d = ImageDir.create(dir);
  await produce(new LocalSink(d), pid, pieces, seed);
  d.commit();
  return dir;
}

/** The pagemap entries' bytes (everything after the head, which names a different pages id). */
function entriesBytes(path: string): Buffer {
  const b = readFileSync(path);
  const headLen = b.readUInt32LE(8);
  return b.subarray(12 + headLen);
}

describe('page server over loopback', () => {
  it('writes the same pagemap and pages bytes as a local pre-dump', async () => {
    const pid = 4242;
    const local = await localDump(pid, PIECES);
    const dir = fresh('ps');
    const server = await PageServer.listen({ dir, address: '127.0.0.1', port: 0 });
    const client = await PageServerClient.connect({ address: '127.0.0.1', port: server.port });
    await produce(client, pid, PIECES);
    const [report] = await server.finished;
    assert.equal(report!.ok, true, report!.error?.message);
    assert.equal(server.connections, 1);
    assert.deepEqual(readFileSync(join(dir, 'pages-65537.img')), readFileSync(join(local, 'pages-1.img')));
    assert.deepEqual(
      entriesBytes(join(dir, `pagemap-${pid}.img`)),
      entriesBytes(join(local, `pagemap-${pid}.img`)),
    );
    using r = PagemapReader.open(dir, `pagemap-${pid}.img`);
    assert.equal(r.pagesId, 65537);
    assert.deepEqual(
      [...r].map((x) => x.flags),
      [PE.PRESENT, PE.PARENT, PE.PRESENT, PE.PRESENT, PE.PARENT, PE.PRESENT],
    );
    assert.equal(existsSync(join(dir, 'inventory.img')), false, 'inventory stays on the dump side');
  });

  it('answers PARENT and OPEN2 from the parent chain and serves an iterative chain', async () => {
    const pid = 777;
    const base = fresh('chain');
    const s1 = await PageServer.listen({ dir: join(base, '1'), address: '127.0.0.1', port: 0 });
    const c1 = await PageServerClient.connect({ address: '127.0.0.1', port: s1.port });
    assert.equal(await c1.parentHas(pid), false);
    await produce(
      c1,
      pid,
      PIECES.filter((p) => p.kind === 'data'),
    );
    assert.equal(c1.hasParent, false);
    assert.equal((await s1.finished)[0]!.ok, true);

    const s2 = await PageServer.listen({
      dir: join(base, '2'),
      address: '127.0.0.1',
      port: 0,
      prevImagesDir: '../1',
    });
    const c2 = await PageServerClient.connect({ address: '127.0.0.1', port: s2.port });
    assert.equal(await c2.parentHas(pid), true);
    assert.equal(await c2.parentHas(pid + 1), false);
    await c2.begin(pid);
    assert.equal(c2.hasParent, true);
    c2.addHole(0x400000, 4);
    c2.addPages(0x7f0000000000, 2, content(2, 0x7f0000000000, 2));
    await c2.flush();
    await c2.end();
    assert.equal((await s2.finished)[0]!.ok, true);
    assert.equal(readlinkSync(join(base, '2', 'parent')), '../1');
    assert.deepEqual(resolvePage(join(base, '2'), pid, 0x401000), content(1, 0x401000, 1));
    assert.deepEqual(resolvePage(join(base, '2'), pid, 0x7f0000001000), content(2, 0x7f0000001000, 1));

    // A hole the parent chain does not cover is refused, as CRIU's server does.
    const s3 = await PageServer.listen({
      dir: join(base, '3'),
      address: '127.0.0.1',
      port: 0,
      prevImagesDir: '../2',
    });
    const c3 = await PageServerClient.connect({ address: '127.0.0.1', port: s3.port });
    await c3.begin(pid);
    c3.addHole(0x400000, 8); // the chain has 0x400000..0x404000 as data and 0x404000+2 as a hole of 1's
    await assert.rejects(c3.end());
    const [r3] = await s3.finished;
    assert.equal(r3!.ok, false);
    assert.match(r3!.error!.message, /not in the parent image set/);
  });

  it('--daemon serves sessions one after another into DIR/<n>, chained, and survives a dropped one', async () => {
    const dir = fresh('daemon');
    const lines: string[] = [];
    const server = await PageServer.listen({
      dir,
      address: '127.0.0.1',
      port: 0,
      daemon: true,
      log: (l) => lines.push(l),
    });
    const pid = 99;
    await produce(await PageServerClient.connect({ address: '127.0.0.1', port: server.port }), pid, PIECES);

    // Session 2: dropped in the middle of a page's data.
    const sock = connect(server.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const dst = encodeDstId('pid', pid);
    sock.write(encodePsHeader({ cmd: PS.IOV_OPEN2, flags: 0, nrPages: 0, vaddr: 0, dstId: dst }));
    sock.write(
      encodePsHeader({ cmd: PS.IOV_ADD_F, flags: PE.PRESENT, nrPages: 4, vaddr: 0x1000, dstId: dst }),
    );
    sock.write(Buffer.alloc(6000, 7));
    await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
    await waitFor(() => server.sessions.length === 2);

    const c3 = await PageServerClient.connect({ address: '127.0.0.1', port: server.port });
    assert.equal(await c3.parentHas(pid), true, 'session 3 chains to session 1, the last complete one');
    await c3.begin(pid);
    c3.addHole(0x400000, 1);
    await c3.end();
    const reports = await server.close();
    assert.deepEqual(
      reports.map((r) => r.ok),
      [true, false, true],
    );
    assert.equal(reports[1]!.error?.code, 'NOT_FLUSHED');
    assert.equal(readFileSync(join(dir, '2', INCOMPLETE_MARKER), 'utf8').length > 0, true);
    assert.deepEqual(
      readdirSync(join(dir, '2')).filter((f) => f.endsWith('.img')),
      [],
      'an aborted session leaves no image under a real name',
    );
    assert.equal(readlinkSync(join(dir, '3', 'parent')), '../1');
    assert.equal(lines.filter((l) => l.includes('session 2') && l.includes('failed')).length, 1);

    // A restarted daemon continues the numbering.
    const again = await PageServer.listen({ dir, address: '127.0.0.1', port: 0, daemon: true });
    await produce(await PageServerClient.connect({ address: '127.0.0.1', port: again.port }), pid, PIECES);
    const [r4] = await again.close();
    assert.equal(r4!.dir, join(dir, '4'));
    assert.equal(r4!.ok, true);
  });

  it('per-chunk checksums: stored when both sides know them, mismatches abort the session', async () => {
    const dir = fresh('sums');
    const server = await PageServer.listen({ dir, address: '127.0.0.1', port: 0 });
    const client = await PageServerClient.connect({
      address: '127.0.0.1',
      port: server.port,
      checksums: true,
    });
    assert.equal(client.checksummed, true);
    await produce(client, 5, PIECES);
    const dataPages = PIECES.filter((p) => p.kind === 'data').reduce((n, p) => n + p.nrPages, 0);
    assert.equal(client.bytesWritten, dataPages * 4096);
    const [report] = await server.finished;
    assert.equal(report!.ok, true, report!.error?.message);
    assert.equal(report!.checksums, true);
    const sums = decodeChecksums(readFileSync(join(dir, 'pages-65537.crc32')));
    assert.equal(sums.length, PIECES.filter((p) => p.kind === 'data').length);

    // A server that refuses the extension: the client carries on without.
    const plainDir = fresh('nosums');
    const plain = await PageServer.listen({ dir: plainDir, address: '127.0.0.1', port: 0, checksums: false });
    const notes: string[] = [];
    const c2 = await PageServerClient.connect({
      address: '127.0.0.1',
      port: plain.port,
      checksums: true,
      log: (l) => notes.push(l),
    });
    assert.equal(c2.checksummed, false);
    assert.equal(notes.length, 1);
    await produce(c2, 5, PIECES);
    assert.equal((await plain.finished)[0]!.ok, true);
    assert.equal(existsSync(join(plainDir, 'pages-65537.crc32')), false);

    // A wrong checksum.
    const badDir = fresh('badsum');
    const bad = await PageServer.listen({ dir: badDir, address: '127.0.0.1', port: 0 });
    const sock = connect(bad.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const dst = encodeDstId('pid', 5);
    sock.on('data', () => {});
    sock.write(
      encodePsHeader({
        cmd: PS.IOV_PARENT,
        flags: 0,
        nrPages: 0,
        vaddr: 0,
        dstId: encodeDstId('pid', 0xc5c5c5),
      }),
    );
    sock.write(encodePsHeader({ cmd: PS.IOV_OPEN2, flags: 0, nrPages: 0, vaddr: 0, dstId: dst }));
    sock.write(
      encodePsHeader({ cmd: PS.IOV_ADD_F, flags: PE.PRESENT, nrPages: 1, vaddr: 0x1000, dstId: dst }),
    );
    sock.write(Buffer.alloc(4096, 1));
    sock.write(encodePsHeader({ cmd: PS.IOV_CHECKSUM, flags: 0, nrPages: 1, vaddr: 0x1000, dstId: 12345 }));
    sock.write(encodePsHeader({ cmd: PS.IOV_CLOSE, flags: 0, nrPages: 0, vaddr: 0, dstId: 0 }));
    const [badReport] = await bad.finished;
    sock.destroy();
    assert.equal(badReport!.ok, false);
    assert.equal(badReport!.error?.code, 'CHECKSUM');
    assert.equal(existsSync(join(badDir, 'pagemap-5.img')), false);
  });

  it('several tasks share one session with keepOpen; a task after CLOSE is a clear error', async () => {
    const dir = fresh('tree');
    const server = await PageServer.listen({ dir, address: '127.0.0.1', port: 0 });
    const client = await PageServerClient.connect({
      address: '127.0.0.1',
      port: server.port,
      keepOpen: true,
    });
    await produce(client, 100, PIECES, 1);
    await produce(client, 101, PIECES, 2);
    await client.close();
    await assert.rejects(client.begin(102), { code: 'PROTOCOL' });
    const [r] = await server.finished;
    assert.equal(r!.ok, true);
    assert.deepEqual(resolvePage(dir, 101, 0x401000), content(2, 0x401000, 1));
    assert.equal(existsSync(join(dir, 'pages-65538.img')), true);
  });

  it('an aborted client leaves the server directory incomplete', async () => {
    const dir = fresh('abort');
    const server = await PageServer.listen({ dir, address: '127.0.0.1', port: 0 });
    const client = await PageServerClient.connect({ address: '127.0.0.1', port: server.port });
    await client.begin(1);
    client.addPages(0x1000, 1, Buffer.alloc(4096));
    await client.flush();
    client.abort('target exited');
    const [report] = await server.finished;
    assert.equal(report!.ok, false);
    assert.equal(existsSync(join(dir, INCOMPLETE_MARKER)), true);
    assert.equal(existsSync(join(dir, 'pagemap-1.img')), false);
  });
});

describe('page-server client back-pressure', () => {
  it('flush() settles only once a stalled server reads again', async () => {
    let peer: Socket | undefined;
    let received = 0;
    const raw = createServer((s) => {
      peer = s;
      s.on('data', (c: Buffer) => {
        const before = received;
        received += c.length;
        if (before < 32 && received >= 32) s.write(Buffer.from([0, 0, 0, 0])); // PARENT: i32 0
        if (before < 64 && received >= 64) {
          s.write(Buffer.from([0])); // OPEN2: has_parent 0
          s.pause(); // then a server whose disk is stuck
        }
      });
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const port = (raw.address() as { port: number }).port;
    const client = await PageServerClient.connect({ address: '127.0.0.1', port });
    await client.begin(1);
    const buf = Buffer.alloc(4 << 20, 1);
    for (let i = 0; i < 16; i++) client.addPages(0x10000000 + i * buf.length, 1024, buf); // 64 MiB
    let settled = false;
    const flushed = client.flush().then(() => {
      settled = true;
    });
    await waitFor(() => received >= 64);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'flush settled while 64 MiB could not have left the client');
    peer!.resume();
    await flushed;
    client.abort('test over');
    await waitFor(() => received >= 16 * (32 + buf.length) + 64);
    raw.close();
  });
});

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const t = Date.now();
  while (!cond()) {
    if (Date.now() - t > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
