// Page-server benchmark: a pre-dump of a pre-warmed static target over loopback to `ckpt page-server`
// against the anchor, a raw TCP copy of the same number of bytes in the same run (Node sender writing
// 4 MiB buffers, Node receiver writing every chunk to a file with writeSync, as the page server does).
// Modes: plain TCP, TLS (mutual certificates; the anchor then copies over TLS too), plain + checksums
// (against the plain anchor). Each timed run is client-side wall time from connect until the server
// confirmed the end (ckpt: CLOSE reply and its close; anchor: the receiver's close after EOF). Images and
// the anchor's file go to the root filesystem; `sync` runs (untimed) before every run. Runs alternate
// anchor/ckpt; medians of REPS. Ratio = anchor time / ckpt time (goal >= 0.9). Peak RSS (maxRSS) of the
// page server and of the pre-dump client process are reported.
// --dir D puts the images and the anchor's file under D instead of the repository root (e.g. /dev/shm to
// take the disk out of the comparison).
// usage: npm run bench -w ckpt -- page-server [--size 4G] [--reps 3] [--modes plain,tls,checksums] [--dir D]
//    or: node bench/page-server.js --size 1G
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const dist = join(pkg, 'dist');
const BUF = 4 << 20;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const maxRss = () => process.resourceUsage().maxRSS * 1024;
const cpuMs = () => {
  const u = process.cpuUsage();
  return Math.round((u.user + u.system) / 1000);
};

function opt(args, name, def) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
}

function parseSize(s) {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return Number(m[1]) * { '': 1, K: 1024, M: 1 << 20, G: 1 << 30 }[m[2].toUpperCase()];
}

function tlsFiles(args) {
  const dir = opt(args, 'tls-dir');
  if (!dir) return undefined;
  const who = opt(args, 'who');
  return {
    ca: readFileSync(join(dir, 'ca.pem')),
    cert: readFileSync(join(dir, `${who}.pem`)),
    key: readFileSync(join(dir, `${who}.key`)),
  };
}

// ---- roles (child processes) ---------------------------------------------------------------------

async function rawRecv(args) {
  const file = opt(args, 'file');
  const tls = tlsFiles(args);
  const server = tls
    ? createTlsServer({ ...tls, requestCert: true, rejectUnauthorized: true })
    : createServer();
  server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${server.address().port}\n`));
  const sock = await new Promise((r) => server.once(tls ? 'secureConnection' : 'connection', r));
  server.close();
  sock.setNoDelay(true);
  const fd = openSync(file, 'w');
  let bytes = 0;
  sock.on('data', (c) => {
    let off = 0;
    while (off < c.length) off += writeSync(fd, c, off, c.length - off);
    bytes += c.length;
  });
  await new Promise((r) => sock.on('end', r));
  closeSync(fd);
  sock.end();
  await new Promise((r) => sock.on('close', r));
  process.stdout.write(`${JSON.stringify({ bytes, maxRss: maxRss(), cpuMs: cpuMs() })}\n`);
}

async function rawSend(args) {
  const port = Number(opt(args, 'port'));
  const total = Number(opt(args, 'bytes'));
  const tls = tlsFiles(args);
  const buf = Buffer.alloc(BUF, 0x5a);
  const t0 = process.hrtime.bigint();
  const sock = await new Promise((resolve, reject) => {
    const s = tls
      ? tlsConnect({ host: '127.0.0.1', port, ...tls, checkServerIdentity: () => undefined })
      : netConnect({ host: '127.0.0.1', port });
    s.once(tls ? 'secureConnect' : 'connect', () => resolve(s));
    s.once('error', reject);
  });
  sock.setNoDelay(true);
  sock.on('data', () => {});
  for (let sent = 0; sent < total; ) {
    const n = Math.min(BUF, total - sent);
    // the same discipline as the pre-dump: the buffer is reused once the socket took it
    await new Promise((r, j) => sock.write(n === BUF ? buf : buf.subarray(0, n), (e) => (e ? j(e) : r())));
    sent += n;
  }
  sock.end();
  await new Promise((r) => sock.on('close', r));
  const ns = Number(process.hrtime.bigint() - t0);
  process.stdout.write(`${JSON.stringify({ ns, maxRss: maxRss(), cpuMs: cpuMs() })}\n`);
}

async function psServer(args) {
  const { pageServerCommand } = await import(join(dist, 'cli/page-server.js'));
  const tlsDir = opt(args, 'tls-dir');
  const tls = tlsDir
    ? {
        tls: true,
        tlsCacert: join(tlsDir, 'ca.pem'),
        tlsCert: join(tlsDir, 'server.pem'),
        tlsKey: join(tlsDir, 'server.key'),
      }
    : {};
  const [r] = await pageServerCommand(
    { imagesDir: opt(args, 'dir'), address: '127.0.0.1', port: '0', ...tls },
    { onListening: (_a, p) => process.stdout.write(`PORT ${p}\n`), log: () => {} },
  );
  process.stdout.write(
    `${JSON.stringify({ ok: r.ok, bytes: r.counts.payloadBytes, maxRss: maxRss(), cpuMs: cpuMs() })}\n`,
  );
}

async function psClient(args) {
  const { preDump } = await import(join(dist, 'dump/index.js'));
  const { pageServerSink } = await import(join(dist, 'cli/page-server.js'));
  const tlsDir = opt(args, 'tls-dir');
  const tls = tlsDir
    ? {
        tls: true,
        tlsCacert: join(tlsDir, 'ca.pem'),
        tlsCert: join(tlsDir, 'client.pem'),
        tlsKey: join(tlsDir, 'client.key'),
      }
    : {};
  const t0 = process.hrtime.bigint();
  const sink = await pageServerSink({
    address: '127.0.0.1',
    port: opt(args, 'port'),
    checksums: args.includes('--checksums'),
    ...tls,
  });
  const r = await preDump({ pid: Number(opt(args, 'pid')), sink });
  const ns = Number(process.hrtime.bigint() - t0);
  process.stdout.write(
    `${JSON.stringify({ ns, bytes: r.bytesWritten, checksums: sink.checksummed, maxRss: maxRss(), cpuMs: cpuMs() })}\n`,
  );
}

// ---- driver ----------------------------------------------------------------------------------------

/** Start a role child that prints `PORT n` first and one JSON line last. */
function child(role, args) {
  const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--role', role, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let gotPort;
  const port = new Promise((r) => {
    gotPort = r;
  });
  p.stdout.on('data', (b) => {
    out += b;
    const m = /^PORT (\d+)$/m.exec(out);
    if (m) gotPort(Number(m[1]));
  });
  const result = new Promise((res, rej) =>
    p.on('exit', (code) => {
      if (code !== 0) return rej(new Error(`${role} exited with ${code}`));
      const lines = out.trim().split('\n');
      res(JSON.parse(lines[lines.length - 1]));
    }),
  );
  return { port, result };
}

function makeCerts(dir) {
  const o = (...a) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  o('req', '-x509', ...ec, '-days', '2', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=bench CA');
  for (const [who, usage] of [
    ['server', 'serverAuth'],
    ['client', 'clientAuth'],
  ]) {
    writeFileSync(join(dir, `${who}.ext`), `extendedKeyUsage=${usage}\n`);
    o('req', ...ec, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`);
    o(
      'x509',
      '-req',
      '-in',
      `${who}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${who}.pem`,
      '-extfile',
      `${who}.ext`,
    );
  }
}

export async function run(args) {
  const size = parseSize(opt(args, 'size', '4G'));
  const reps = Number(opt(args, 'reps', '3'));
  let modes = opt(args, 'modes', 'plain,tls,checksums').split(',');
  const { Fixture } = await import(join(dist, 'testing/index.js'));
  const work = mkdtempSync(join(opt(args, 'dir', join(pkg, '..', '..')), '.bench-page-server-'));
  const certs = join(work, 'certs');
  mkdirSync(certs);
  if (modes.includes('tls')) {
    try {
      makeCerts(certs);
    } catch (e) {
      console.log(`TLS mode skipped: openssl failed (${e.message.split('\n')[0]})`);
      modes = modes.filter((m) => m !== 'tls');
    }
  }
  const results = { date: new Date().toISOString(), size, reps, dir: work, modes: [] };
  const gbs = (bytes, ns) => (bytes / ns).toFixed(2);
  const mib = (b) => (b / 2 ** 20).toFixed(1);
  try {
    console.log(`== page server: ${mib(size)} MiB static target, ${reps} reps, files under ${dirname(work)}`);
    const f = await Fixture.start('static', [String(Math.round(size / 2 ** 20))], 600_000);
    try {
      // warm-up (untimed): one plain pre-dump through the server
      const warm = join(work, 'warm');
      const s0 = child('ps-server', ['--dir', warm]);
      await child('ps-client', ['--port', String(await s0.port), '--pid', String(f.pid)]).result;
      await s0.result;
      rmSync(warm, { recursive: true, force: true });
      for (const mode of modes) {
        const tlsArgs = mode === 'tls' ? ['--tls-dir', certs] : [];
        const m = {
          mode,
          anchorNs: [],
          ckptNs: [],
          serverRss: [],
          clientRss: [],
          anchorRecvRss: [],
          cpu: [],
          bytes: 0,
        };
        for (let i = 0; i < reps; i++) {
          // ckpt: pre-dump -> page server
          const dir = join(work, `ps-${mode}-${i}`);
          spawnSync('sync');
          const s = child('ps-server', ['--dir', dir, ...tlsArgs]);
          const cArgs = ['--port', String(await s.port), '--pid', String(f.pid), ...tlsArgs];
          if (mode === 'checksums') cArgs.push('--checksums');
          const c = await child('ps-client', cArgs).result;
          const sr = await s.result;
          if (!sr.ok) throw new Error(`page server session failed (${mode})`);
          m.ckptNs.push(c.ns);
          m.clientRss.push(c.maxRss);
          m.serverRss.push(sr.maxRss);
          m.bytes = c.bytes;
          rmSync(dir, { recursive: true, force: true });
          // anchor: raw copy of the same number of bytes
          const file = join(work, 'raw.bin');
          spawnSync('sync');
          const rcv = child('raw-recv', [
            '--file',
            file,
            ...(mode === 'tls' ? [...tlsArgs, '--who', 'server'] : []),
          ]);
          const snd = await child('raw-send', [
            '--port',
            String(await rcv.port),
            '--bytes',
            String(m.bytes),
            ...(mode === 'tls' ? [...tlsArgs, '--who', 'client'] : []),
          ]).result;
          const rr = await rcv.result;
          if (rr.bytes !== m.bytes) throw new Error(`anchor received ${rr.bytes} of ${m.bytes} bytes`);
          m.anchorNs.push(snd.ns);
          m.cpu.push({ server: sr.cpuMs, client: c.cpuMs, rawRecv: rr.cpuMs, rawSend: snd.cpuMs });
          m.anchorRecvRss.push(rr.maxRss);
          rmSync(file, { force: true });
        }
        m.ratio = median(m.anchorNs) / median(m.ckptNs);
        console.log(
          `${mode.padEnd(9)}: raw copy ${gbs(m.bytes, median(m.anchorNs))} GB/s, ckpt pre-dump -> page-server ` +
            `${gbs(m.bytes, median(m.ckptNs))} GB/s -> ratio ${m.ratio.toFixed(2)}; peak RSS server ` +
            `${mib(Math.max(...m.serverRss))} MiB, client ${mib(Math.max(...m.clientRss))} MiB ` +
            `(raw receiver ${mib(Math.max(...m.anchorRecvRss))} MiB)`,
        );
        const cpu = (k) => median(m.cpu.map((c) => c[k]));
        console.log(
          `${''.padEnd(9)}  CPU ms (median): ckpt server ${cpu('server')} + client ${cpu('client')}, ` +
            `raw receiver ${cpu('rawRecv')} + sender ${cpu('rawSend')}`,
        );
        results.modes.push(m);
      }
    } finally {
      f.kill();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const outDir = resolve(pkg, '../../bench-results');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `page-server-${results.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results: ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const role = opt(args, 'role');
  const roles = { 'raw-recv': rawRecv, 'raw-send': rawSend, 'ps-server': psServer, 'ps-client': psClient };
  if (role) await roles[role](args);
  else await run(args);
}
