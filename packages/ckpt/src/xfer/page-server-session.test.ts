import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { INCOMPLETE_MARKER, PagemapReader } from '../images/index.js';
import { PageServerSession } from './page-server-session.js';
import { decodeHasParent, decodeI32Reply, encodeDstId, encodePsHeader, PE_WIRE, PS } from './wire.js';

const root = mkdtempSync(join(tmpdir(), 'ckpt-session-'));
after(() => rmSync(root, { recursive: true, force: true }));

const dst = encodeDstId('pid', 77);
const hdr = (cmd: number, flags = 0, nrPages = 0, vaddr = 0) =>
  encodePsHeader({ cmd, flags, nrPages, vaddr, dstId: dst });

describe('page-server session', () => {
  const sizes = [1, 300, 70, 1024, 3];
  const datas = sizes.map((n) => randomBytes(n * 4096));
  const stream = Buffer.concat([
    hdr(PS.IOV_OPEN2),
    ...sizes.flatMap((n, i) => [
      hdr(PS.IOV_ADD_F, PE_WIRE.PRESENT, n, 0x10000000 + i * 0x1000000),
      datas[i]!,
    ]),
    hdr(PS.IOV_ADD_F, PE_WIRE.PARENT, 9, 0x7f0000000000),
    hdr(PS.IOV_CLOSE),
  ]);

  it('writes the same pages whatever the chunking of the stream', () => {
    for (const [k, maxChunk] of [1000, 20_000, 300_000, stream.length].entries()) {
      const dir = join(root, `chunks-${k}`);
      const replies: Buffer[] = [];
      const s = new PageServerSession({ dir }, (b) => replies.push(b));
      let off = 0;
      let state = s.state;
      while (off < stream.length) {
        const n = 1 + Math.floor(Math.random() * maxChunk);
        state = s.feed(stream.subarray(off, off + n));
        off += n;
      }
      assert.equal(state, 'closed');
      assert.equal(decodeHasParent(replies[0]!), false);
      assert.equal(decodeI32Reply(replies[1]!), 0);
      using pm = PagemapReader.open(dir, 'pagemap-77.img');
      assert.deepEqual(
        pm.ranges.map((r) => [r.nrPages, r.flags]),
        [...sizes.map((n) => [n, PE_WIRE.PRESENT]), [9, PE_WIRE.PARENT]],
      );
      assert.deepEqual(readFileSync(pm.pagesPath), Buffer.concat(datas));
    }
  });

  it('EOF in the middle aborts: no image under its real name, an INCOMPLETE marker', () => {
    const dir = join(root, 'eof');
    const s = new PageServerSession({ dir }, () => {});
    s.feed(stream.subarray(0, 32 + 32 + 4096 + 32 + 5000));
    assert.throws(() => s.end(), { code: 'NOT_FLUSHED' });
    assert.equal(s.state, 'failed');
    assert.equal(existsSync(join(dir, INCOMPLETE_MARKER)), true);
    assert.equal(existsSync(join(dir, 'pagemap-77.img')), false);
    assert.equal(existsSync(join(dir, 'pages-65537.img')), false);
  });

  it('refuses ranges out of order and a second OPEN of the same pagemap', () => {
    const a = new PageServerSession({ dir: join(root, 'order') }, () => {});
    a.feed(Buffer.concat([hdr(PS.IOV_OPEN2), hdr(PS.IOV_ADD_F, PE_WIRE.PARENT, 2, 0x5000)]));
    assert.throws(() => a.feed(hdr(PS.IOV_ADD_F, PE_WIRE.PARENT, 1, 0x5000)), { code: 'BAD_ORDER' });
    const b = new PageServerSession({ dir: join(root, 'twice') }, () => {});
    assert.throws(() => b.feed(Buffer.concat([hdr(PS.IOV_OPEN2), hdr(PS.IOV_OPEN2)])), { code: 'PROTOCOL' });
    const c = new PageServerSession({ dir: join(root, 'flags') }, () => {});
    assert.throws(() => c.feed(Buffer.concat([hdr(PS.IOV_OPEN2), hdr(PS.IOV_ADD_F, 0x10, 1, 0x1000)])), {
      code: 'PROTOCOL',
    });
  });
});
