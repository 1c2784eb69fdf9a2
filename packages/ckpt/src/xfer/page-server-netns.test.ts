import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PagemapReader } from '../images/index.js';

const dist = dirname(dirname(fileURLToPath(import.meta.url))); // packages/ckpt/dist
const root = mkdtempSync(join(tmpdir(), 'ckpt-netns-'));
const tag = `${process.pid % 100000}`;
const nsClient = `ckpt-c${tag}`;
const nsServer = `ckpt-s${tag}`;
const vethC = `ckc${tag}`;
const vethS = `cks${tag}`;
const serverIp = '10.213.7.2';
const clientIp = '10.213.7.1';

function ip(...args: string[]): string | undefined {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return r.status === 0 ? undefined : (r.stderr || r.error?.message || `exit ${r.status}`).trim();
}

/** Create the namespaces and the veth pair; the reason it failed, or undefined. */
function setUp(): string | undefined {
  const steps: string[][] = [
    ['netns', 'add', nsClient],
    ['netns', 'add', nsServer],
    ['link', 'add', vethC, 'type', 'veth', 'peer', 'name', vethS],
    ['link', 'set', vethC, 'netns', nsClient],
    ['link', 'set', vethS, 'netns', nsServer],
    ['-n', nsClient, 'addr', 'add', `${clientIp}/24`, 'dev', vethC],
    ['-n', nsServer, 'addr', 'add', `${serverIp}/24`, 'dev', vethS],
    ['-n', nsClient, 'link', 'set', vethC, 'up'],
    ['-n', nsServer, 'link', 'set', vethS, 'up'],
    ['-n', nsClient, 'link', 'set', 'lo', 'up'],
    ['-n', nsServer, 'link', 'set', 'lo', 'up'],
  ];
  for (const s of steps) {
    const err = ip(...s);
    if (err !== undefined) return `ip ${s.join(' ')}: ${err}`;
  }
  return undefined;
}

const skip = (() => {
  if (spawnSync('ip', ['-V']).status !== 0) return 'the ip command is missing';
  const why = setUp();
  return why === undefined ? false : `cannot create network namespaces (${why})`;
})();

after(() => {
  ip('netns', 'del', nsClient);
  ip('netns', 'del', nsServer);
  rmSync(root, { recursive: true, force: true });
});

const PIECES = [
  { vaddr: 0x400000, nrPages: 3 },
  { vaddr: 0x7f0000000000, nrPages: 700 },
  { vaddr: 0x7ffd00000000, nrPages: 2 },
];

describe('page server across two network namespaces', { skip }, () => {
  const images = join(root, 'images');
  const serverJs = join(root, 'server.mjs');
  const clientJs = join(root, 'client.mjs');
  before(() => {
    writeFileSync(
      serverJs,
      `import { pageServerCommand } from ${JSON.stringify(join(dist, 'cli/page-server.js'))};
const r = await pageServerCommand({ imagesDir: process.argv[2], address: process.argv[3], port: '27123' });
process.stdout.write(JSON.stringify(r) + '\\n');`,
    );
    writeFileSync(
      clientJs,
      `import { pageServerSink } from ${JSON.stringify(join(dist, 'cli/page-server.js'))};
const pieces = ${JSON.stringify(PIECES)};
let sink;
for (let i = 0; ; i++) {
  try { sink = await pageServerSink({ address: process.argv[2], port: '27123', checksums: true }); break; }
  catch (e) { if (i > 100) throw e; await new Promise((r) => setTimeout(r, 50)); }
}
await sink.begin(4321);
for (const p of pieces) {
  sink.addPages(p.vaddr, p.nrPages, Buffer.alloc(p.nrPages * 4096, p.vaddr / 4096 & 0xff));
  await sink.flush();
}
await sink.end();
process.stdout.write('client done\\n');`,
    );
  });

  it('pre-dumps from one namespace into a page server in the other (ip netns exec)', async () => {
    const server = spawn('ip', ['netns', 'exec', nsServer, process.execPath, serverJs, images, serverIp], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let serverOut = '';
    let serverErr = '';
    server.stdout.on('data', (b) => {
      serverOut += b;
    });
    server.stderr.on('data', (b) => {
      serverErr += b;
    });
    const exited = new Promise<number | null>((r) => server.on('exit', (code) => r(code)));
    const client = spawnSync('ip', ['netns', 'exec', nsClient, process.execPath, clientJs, serverIp], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(client.status, 0, client.stderr);
    assert.match(client.stdout, /client done/);
    assert.equal(await exited, 0, serverErr);
    const [report] = JSON.parse(serverOut) as { ok: boolean; peer: string; checksums: boolean }[];
    assert.equal(report!.ok, true);
    assert.equal(report!.checksums, true);
    assert.match(report!.peer, new RegExp(`^${clientIp.replace(/\./g, '\\.')}:`));
    assert.match(serverErr, new RegExp(`listening on ${serverIp.replace(/\./g, '\\.')}:27123`));
    using pm = PagemapReader.open(images, 'pagemap-4321.img');
    assert.deepEqual(
      pm.ranges.map((r) => [r.vaddr, r.nrPages]),
      PIECES.map((p) => [p.vaddr, p.nrPages]),
    );
    const pages = readFileSync(pm.pagesPath);
    assert.equal(pages.length, 705 * 4096);
    assert.equal(pages[3 * 4096], (0x7f0000000000 / 4096) & 0xff);
  });
});
