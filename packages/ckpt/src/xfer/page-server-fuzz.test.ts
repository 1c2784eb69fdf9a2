import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { INCOMPLETE_MARKER, PagemapReader } from '../images/index.js';
import { rng } from '../testing/index.js';
import { PageServerClient } from './page-client.js';
import { PageServer } from './page-server.js';
import { encodeDstId, encodePsHeader, PE_WIRE, PS } from './wire.js';

const root = mkdtempSync(join(tmpdir(), 'ckpt-psfuzz-'));
after(() => rmSync(root, { recursive: true, force: true }));

interface Built {
  bytes: Buffer;
  messages: number;
  /** The stream is certainly invalid (the server must not commit it). */
  broken: boolean;
  /** No mutation at all: the server must commit it. */
  clean: boolean;
}

/** One session: OPEN2, ~30 ranges in ascending order, CLOSE; each message mutated with probability `p`. */
function buildSession(rand: () => number, p: number): Built {
  const pid = 1 + Math.floor(rand() * 4_000_000);
  const dst = encodeDstId('pid', pid);
  const parts: Buffer[] = [];
  let messages = 0;
  let broken = false;
  let clean = true;
  const hdr = (cmd: number, flags: number, nrPages: number, vaddr: number, dstId = dst) =>
    encodePsHeader({ cmd, flags, nrPages, vaddr, dstId });
  parts.push(hdr(PS.IOV_PARENT, 0, 0, 0), hdr(PS.IOV_OPEN2, 0, 0, 0));
  messages += 2;
  let vaddr = 0x400000 + Math.floor(rand() * 1000) * 4096;
  const ranges = 10 + Math.floor(rand() * 40);
  for (let i = 0; i < ranges && !broken; i++) {
    const nr = 1 + Math.floor(rand() * 8);
    const data = rand() < 0.7;
    let h = hdr(PS.IOV_ADD_F, data ? PE_WIRE.PRESENT : PE_WIRE.PARENT, nr, vaddr);
    let payload = data ? Buffer.alloc(nr * 4096, i & 0xff) : Buffer.alloc(0);
    messages++;
    if (rand() < p) {
      clean = false;
      const kind = Math.floor(rand() * 8);
      h = Buffer.from(h);
      switch (kind) {
        case 0: // unknown command
          h.writeUInt16LE(0x2000 + Math.floor(rand() * 0xd000), 0);
          broken = true;
          break;
        case 1: // absurd nr_pages
          h.writeBigUInt64LE(BigInt(2 ** 33 + Math.floor(rand() * 1000)), 8);
          broken = true;
          break;
        case 2: // unknown dst type
          h.writeUInt8(0x55, 24);
          broken = true;
          break;
        case 3: // data cut short, then the connection ends
          payload = payload.subarray(0, Math.floor(rand() * payload.length));
          if (!data) h.writeUInt16LE(PS.IOV_ADD, 0);
          parts.push(h, payload);
          return { bytes: Buffer.concat(parts), messages, broken: true, clean };
        case 4: // out of order: below the previous range
          h.writeBigUInt64LE(BigInt(Math.max(0, vaddr - 0x100000)), 16);
          broken = i > 0; // the previous range ends above the new start
          break;
        case 5: // garbage instead of a header
          h = Buffer.from(Array.from({ length: 32 }, () => Math.floor(rand() * 256)));
          break;
        case 6: // a random byte of the header flipped (may stay valid)
          h[Math.floor(rand() * 32)] ^= 1 << Math.floor(rand() * 8);
          break;
        default: // unaligned vaddr
          h.writeBigUInt64LE(BigInt(vaddr + 1 + Math.floor(rand() * 4095)), 16);
          broken = true;
      }
    }
    parts.push(h, payload);
    vaddr += (nr + Math.floor(rand() * 3)) * 4096;
  }
  if (rand() < 0.1) return { bytes: Buffer.concat(parts), messages, broken: true, clean: false }; // no CLOSE
  parts.push(hdr(PS.IOV_CLOSE, 0, 0, 0));
  messages++;
  return { bytes: Buffer.concat(parts), messages, broken, clean };
}

async function send(port: number, bytes: Buffer): Promise<void> {
  const sock = connect(port, '127.0.0.1');
  sock.on('data', () => {});
  sock.on('error', () => {});
  await new Promise<void>((resolve) => {
    sock.once('connect', () => {
      sock.end(bytes);
    });
    sock.once('close', () => resolve());
  });
}

describe('page server fuzz', () => {
  it('survives >= 10,000 random and mutated messages and never commits a broken session', async () => {
    const dir = join(root, 'd');
    const lines: string[] = [];
    const server = await PageServer.listen({
      dir,
      address: '127.0.0.1',
      port: 0,
      daemon: true,
      log: (l) => lines.push(l),
    });
    const rand = rng(20261125);
    const t0 = Date.now();
    const built: Built[] = [];
    let sent = 0;
    while (sent < 10_000) {
      const b = buildSession(rand, 0.03);
      built.push(b);
      sent += b.messages;
      await send(server.port, b.bytes);
    }
    // Then a well-behaved client still gets served.
    const c = await PageServerClient.connect({ address: '127.0.0.1', port: server.port });
    await c.begin(1);
    c.addPages(0x1000, 1, Buffer.alloc(4096, 9));
    await c.end();
    const reports = await server.close();
    console.log(`${built.length} sessions, ${sent} messages, ${Date.now() - t0} ms`);
    assert.equal(reports.length, built.length + 1);
    assert.equal(reports.at(-1)!.ok, true);

    let failed = 0;
    for (const [i, b] of built.entries()) {
      const r = reports[i]!;
      const names = readdirSync(r.dir);
      if (b.broken) assert.equal(r.ok, false, `session ${r.index} was broken but committed`);
      if (b.clean) assert.equal(r.ok, true, `session ${r.index} was clean but failed: ${r.error?.message}`);
      if (!r.ok) {
        failed++;
        assert.ok(existsSync(join(r.dir, INCOMPLETE_MARKER)), `session ${r.index}: no INCOMPLETE marker`);
        assert.deepEqual(
          names.filter((f) => /^(pagemap|pages)-.*\.img$/.test(f)),
          [],
          `session ${r.index}`,
        );
      } else {
        assert.equal(existsSync(join(r.dir, INCOMPLETE_MARKER)), false);
        for (const f of names.filter((n) => n.startsWith('pagemap-'))) {
          using pm = PagemapReader.open(r.dir, f);
          assert.equal(statSync(pm.pagesPath).size, pm.presentPages * 4096);
        }
      }
    }
    assert.ok(failed > 50, `only ${failed} sessions failed: the mutations are too weak`);
    assert.equal(lines.filter((l) => l.includes('failed')).length, failed);
  });
});
