import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodePsHeader } from '../xfer/wire.js';
import { pageServerCommand, pageServerSink } from './page-server.js';

const root = mkdtempSync(join(tmpdir(), 'ckpt-cli-ps-'));
after(() => rmSync(root, { recursive: true, force: true }));

function started(): { port: Promise<number>; onListening: (a: string, p: number) => void } {
  let resolve!: (p: number) => void;
  const port = new Promise<number>((r) => {
    resolve = r;
  });
  return { port, onListening: (_a, p) => resolve(p) };
}

describe('ckpt page-server command', () => {
  it('serves one session and returns its report; the pre-dump side connects with pageServerSink', async () => {
    const dir = join(root, 'one');
    const s = started();
    const lines: string[] = [];
    const done = pageServerCommand(
      { imagesDir: dir, address: '127.0.0.1', port: '0' },
      { onListening: s.onListening, log: (l) => lines.push(l) },
    );
    const sink = await pageServerSink(
      { address: '127.0.0.1', port: String(await s.port), checksums: true },
      () => {},
    );
    await sink.begin(321);
    sink.addPages(0x5000, 1, Buffer.alloc(4096, 3));
    await sink.flush();
    await sink.end();
    const [r] = await done;
    assert.equal(r!.ok, true);
    assert.equal(r!.checksums, true);
    assert.ok(existsSync(join(dir, 'pagemap-321.img')));
    assert.match(lines[0]!, /^page-server: listening on 127\.0\.0\.1:\d+, images into /);
  });

  it('a failed one-shot session is an error with the session code', async () => {
    const s = started();
    const done = pageServerCommand(
      { imagesDir: join(root, 'bad'), address: '127.0.0.1', port: '0' },
      { onListening: s.onListening, log: () => {} },
    );
    const sock = connect(await s.port, '127.0.0.1');
    sock.on('error', () => {});
    sock.end(encodePsHeader({ cmd: 0x77, flags: 0, nrPages: 0, vaddr: 0, dstId: 0 }));
    await assert.rejects(done, { code: 'UNKNOWN_COMMAND' });
  });

  it('--daemon stops on the signal; usage errors are EUSAGE', async () => {
    const ac = new AbortController();
    const s = started();
    const done = pageServerCommand(
      { imagesDir: join(root, 'd'), address: '127.0.0.1', port: '0', daemon: true },
      { onListening: s.onListening, signal: ac.signal, log: () => {} },
    );
    await s.port;
    ac.abort();
    assert.deepEqual(await done, []);
    await assert.rejects(pageServerCommand({ port: '1' }), { code: 'EUSAGE' });
    await assert.rejects(pageServerCommand({ imagesDir: root, port: '70000' }), { code: 'EUSAGE' });
    await assert.rejects(pageServerCommand({ imagesDir: root, port: '1', tls: true }), { code: 'EUSAGE' });
    await assert.rejects(pageServerSink({ port: '1' }), { code: 'EUSAGE' });
  });
});
