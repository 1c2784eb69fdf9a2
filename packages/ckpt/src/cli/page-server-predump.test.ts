import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { preDump } from '../dump/index.js';
import { Fixture } from '../testing/index.js';
import { PageServerClient } from '../xfer/page-client.js';
import { PageServer } from '../xfer/page-server.js';
import { verifyImages } from './verify.js';

const root = mkdtempSync(join(tmpdir(), 'ckpt-ps-predump-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** The pagemap entries' bytes (everything after the head, which names a different pages id). */
function entriesBytes(path: string): Buffer {
  const b = readFileSync(path);
  return b.subarray(12 + b.readUInt32LE(8));
}

describe('pre-dump of a real process through the page server', () => {
  it('gives byte-identical pagemap entries and pages to a local pre-dump', async () => {
    await using f = await Fixture.start('static', ['16']);
    const local = join(root, 'local');
    await preDump({ pid: f.pid, imagesDir: local });

    const remote = join(root, 'remote');
    const server = await PageServer.listen({ dir: remote, address: '127.0.0.1', port: 0 });
    const sink = await PageServerClient.connect({ address: '127.0.0.1', port: server.port, checksums: true });
    const r = await preDump({ pid: f.pid, sink, bufferSize: 1 << 20 });
    const [report] = await server.finished;
    assert.equal(report!.ok, true, report!.error?.message);
    assert.ok(r.pagesWritten >= 4096, `${r.pagesWritten} pages`);
    assert.deepEqual(readFileSync(join(remote, 'pages-65537.img')), readFileSync(join(local, 'pages-1.img')));
    assert.deepEqual(
      entriesBytes(join(remote, `pagemap-${f.pid}.img`)),
      entriesBytes(join(local, `pagemap-${f.pid}.img`)),
    );
    assert.deepEqual(verifyImages(remote).problems, []);
    assert.ok(verifyImages(remote).dirs[0]!.checksums > 0);
  });
});
