import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Fixture, requireOrSkip, Scratch } from '../testing/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const CKPT = resolve(here, '../../bin/ckpt.js');
const BINLOG = resolve(here, '../../../binlog/bin/binlog.js');
const scratch = new Scratch('ckpt-cli-test-');
const { root, fixtures } = scratch;
chmodSync(root, 0o777);
const newDir = () => scratch.newDir();

function ckpt(args: string[], env: NodeJS.ProcessEnv = {}, prefix: string[] = []) {
  const cmd = prefix.length ? prefix[0]! : process.execPath;
  const argv = prefix.length ? [...prefix.slice(1), process.execPath, CKPT, ...args] : [CKPT, ...args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A failure is exactly one line `ckpt: ...` on stderr, no stack. */
function assertOneLine(stderr: string, re: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line expected, got:\n${stderr}`);
  assert.match(lines[0]!, /^ckpt: /);
  assert.match(lines[0]!, re);
  assert.doesNotMatch(stderr, /\n\s+at /);
}

test('--help lists the flags', () => {
  const r = ckpt(['pre-dump', '--help']);
  assert.equal(r.status, 0);
  for (const flag of [
    '-t, --tree',
    '-D, --images-dir',
    '--buffer-size',
    '--freeze',
    '--json',
    '-v',
    '--log-file',
  ]) {
    assert.ok(r.stdout.includes(flag), `--help mentions ${flag}`);
  }
  assert.match(ckpt(['--help']).stdout, /pre-dump[\s\S]*show[\s\S]*demo/);
});

test('--help documents the exit statuses', () => {
  const h = ckpt(['--help']).stdout;
  for (const re of [
    /^ {2}1 +the operation failed/m,
    /^ {2}2 +bad usage/m,
    /^ {2}70 +internal error/m,
    /SIGTERM 143/,
  ]) {
    assert.match(h, re);
  }
});

test('every usage error is status 2, whatever the flag (commander says 1 for some)', () => {
  for (const args of [
    ['pre-dump', '-t', '1', '--no-such-flag'],
    ['pre-dump'], // missing required -t
    ['show'], // missing argument
    ['pre-dump', '-t', '1', '--track-mem', 'bogus'], // bad choice
    ['no-such-command'],
  ]) {
    const r = ckpt(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('SIGTERM cancels with status 143 (128 + 15), one line', async () => {
  const child = spawn(
    process.execPath,
    [CKPT, 'page-server', '-D', newDir(), '--port', '0', '--address', '127.0.0.1'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  await new Promise<void>((res, rej) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (/listening on/.test(err)) res();
    });
    child.once('exit', () => rej(new Error(`page-server exited: ${err}`)));
  });
  err = '';
  const status = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  child.kill('SIGTERM');
  assert.equal(await status, 143, err);
  assertOneLine(err, /stopped before any connection/);
});

test('pre-dump --json: statistics on stdout, images, a decodable binary log', async () => {
  const f = await Fixture.start('static', ['16']);
  fixtures.push(f);
  const dir = newDir();
  const r = ckpt(['pre-dump', '-t', String(f.pid), '-D', dir, '--json', '-v4']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.pid, f.pid);
  assert.ok(j.pagesWritten >= 4096);
  assert.ok(j.ckptPeakRss > 0);
  assert.ok(existsSync(join(dir, 'inventory.img')));
  const d = spawnSync(process.execPath, [BINLOG, 'decode', join(dir, 'pre-dump.log.bin')], {
    encoding: 'utf8',
  });
  assert.equal(d.status, 0, d.stderr);
  assert.match(d.stdout, new RegExp(`pre-dump of ${f.pid} done`));
  assert.match(d.stdout, /DEBUG/);
  // without --json: one summary line
  const s = ckpt(['pre-dump', '-t', String(f.pid), '-D', newDir()]);
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, new RegExp(`^pre-dump of ${f.pid}: .* pages -> .*\\n$`));
});

test('no such process: one line, status 1, nothing created', () => {
  const dir = newDir();
  const r = ckpt(['pre-dump', '-t', '1073741800', '-D', dir]);
  assert.equal(r.status, 1);
  assertOneLine(r.stderr, /no such process: 1073741800/);
  assert.equal(existsSync(dir), false);
});

test('bad usage: one line, status 2', () => {
  const r = ckpt(['pre-dump', '-t', '1', '-D', newDir(), '--buffer-size', 'lots']);
  assert.equal(r.status, 2);
  assertOneLine(r.stderr, /bad size/);
  const m = ckpt(['pre-dump', '-t', 'abc', '-D', newDir()]);
  assert.equal(m.status, 2);
  assertOneLine(m.stderr, /bad or missing pid/);
});

test('EPERM: an unprivileged user against a root target gets one clean line', async (t) => {
  if (requireOrSkip(t, 'root', process.getuid?.() !== 0 && 'needs root to start a root-owned target')) return;
  if (
    requireOrSkip(
      t,
      'setpriv',
      spawnSync('setpriv', ['--version']).status !== 0 && 'setpriv is not installed',
    )
  )
    return;
  const f = await Fixture.start('static', ['4']);
  fixtures.push(f);
  // uid 65534 with only CAP_DAC_READ_SEARCH (ambient, so node keeps it): it reads the checkout wherever it
  // is (a clone under root's mode-700 home included) and the target's /proc files, but cannot ptrace or
  // process_vm_readv a root process (that needs CAP_SYS_PTRACE): EPERM for the right reason
  const asNobody = [
    'setpriv',
    '--reuid=65534',
    '--regid=65534',
    '--clear-groups',
    '--inh-caps=-all,+dac_read_search',
    '--ambient-caps=+dac_read_search',
    '--bounding-set=-all,+dac_read_search',
  ];
  const who = spawnSync(
    asNobody[0]!,
    [...asNobody.slice(1), 'sh', '-c', 'id -u; grep ^Cap /proc/self/status'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(who.status, 0, who.stderr);
  assert.match(who.stdout, /^65534\n/);
  const eff = BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(who.stdout)![1]}`);
  assert.equal(eff, 1n << 2n, 'CAP_DAC_READ_SEARCH (2) only: no CAP_SYS_PTRACE');
  const r = ckpt(['pre-dump', '-t', String(f.pid), '-D', newDir()], {}, asNobody);
  assert.equal(r.status, 1, r.stderr);
  assertOneLine(r.stderr, new RegExp(`not permitted .*${f.pid}|${f.pid}.*not permitted`));
});

test('-D on procfs or sysfs: one line naming it, status 1, at once (no recursive mkdir spinning in /proc)', () => {
  for (const [dir, fs] of [
    ['/proc/ckpt-x', 'procfs'],
    ['/sys/ckpt-x/y', 'sysfs'],
  ] as const) {
    const r = ckpt(['pre-dump', '-t', String(process.pid), '-D', dir], {}, ['timeout', '20']);
    assert.equal(r.status, 1, r.stderr);
    assertOneLine(r.stderr, new RegExp(`-D ${dir} is on ${fs}`));
  }
  const ps = ckpt(['page-server', '-D', '/proc/ckpt-x', '--port', '0'], {}, ['timeout', '20']);
  assert.equal(ps.status, 1, ps.stderr);
  assertOneLine(ps.stderr, /-D \/proc\/ckpt-x is on procfs/);
});

test('a kernel thread: one line saying so, status 1, nothing created', () => {
  const dir = newDir();
  const r = ckpt(['pre-dump', '-t', '2', '-D', dir]); // kthreadd
  assert.equal(r.status, 1, r.stderr);
  assertOneLine(r.stderr, /^ckpt: process 2 is a kernel thread: nothing to dump$/);
  assert.equal(existsSync(dir), false);
});

test('a log file that cannot be written: one warning, the dump goes on and completes', async () => {
  const f = await Fixture.start('static', ['4']);
  fixtures.push(f);
  const dir = newDir();
  const r = ckpt(['pre-dump', '-t', String(f.pid), '-D', dir, '--log-file', '/dev/full']); // writes: ENOSPC
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stderr,
    /^ckpt: warning: cannot write the log file \/dev\/full \(ENOSPC\): going on without a log\n$/,
  );
  assert.ok(existsSync(join(dir, 'inventory.img')));
});

test('show --pages into a pipe closed early (| head): a quiet exit, no EPIPE stack', async () => {
  const f = await Fixture.start('manyvma', ['2000', '4']); // 2000 pagemap entries: more than a pipe holds
  fixtures.push(f);
  const dir = newDir();
  assert.equal(ckpt(['pre-dump', '-t', String(f.pid), '-D', dir]).status, 0);
  const child = spawn(process.execPath, [CKPT, 'show', dir, '--pages'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  child.stdout.once('data', () => child.stdout.destroy()); // as head -1 does
  const status = await new Promise<number | null>((res) => child.once('close', (code) => res(code)));
  assert.equal(err, '');
  assert.equal(status, 0);
});

test('show of a directory with a damaged image: listed whole, then one line and status 1', async () => {
  const f = await Fixture.start('static', ['64']);
  fixtures.push(f);
  const dir = newDir();
  assert.equal(ckpt(['pre-dump', '-t', String(f.pid), '-D', dir]).status, 0);
  const healthy = ckpt(['show', dir]);
  assert.equal(healthy.status, 0, healthy.stderr);
  assert.equal(healthy.stderr, '');
  const pagemap = readdirSync(dir).find((n) => n.startsWith('pagemap-'))!;
  writeFileSync(join(dir, pagemap), 'not a pagemap at all');
  const r = ckpt(['show', dir]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /inventory\.img/); // the rest is still listed
  assert.match(r.stdout, new RegExp(`${pagemap} +BAD_MAGIC: `));
  assertOneLine(r.stderr, new RegExp(`1 damaged image \\(${pagemap}\\)$`));
  assert.equal(
    JSON.parse(ckpt(['show', dir, '--json']).stdout).files.find((x: { file: string }) => x.file === pagemap)
      .damaged,
    true,
  );
});

test('the target exits mid-dump: one line, status 1, directory marked incomplete', async () => {
  const f = await Fixture.start('static', ['64']);
  fixtures.push(f);
  const dir = newDir();
  const r = ckpt(['pre-dump', '-t', String(f.pid), '-D', dir], { CKPT_FAULT: 'exit-target-after:2' });
  f.reap();
  assert.equal(r.status, 1, r.stderr);
  assertOneLine(r.stderr, /exited during the dump; .* is incomplete/);
  assert.equal(existsSync(join(dir, 'inventory.img')), false);
  assert.ok(readdirSync(dir).includes('INCOMPLETE'));
});

test('--freeze: the target is running again afterwards', async () => {
  const f = await Fixture.start('mt', ['2', '2']);
  fixtures.push(f);
  const r = ckpt(['pre-dump', '-t', String(f.pid), '-D', newDir(), '--freeze', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).frozen, true);
  assert.doesNotMatch(f.state(), /^[Tt]$/);
});

test('pre-dump --page-server: pages to `ckpt page-server`, inventory and stats stay in -D', async () => {
  const f = await Fixture.start('static', ['16']);
  fixtures.push(f);
  const psDir = newDir();
  const dir = newDir();
  const server = spawn(
    process.execPath,
    [CKPT, 'page-server', '-D', psDir, '--port', '0', '--address', '127.0.0.1'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  try {
    let err = '';
    const port = await new Promise<string>((res, rej) => {
      server.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /listening on [^:]+:(\d+)/.exec(err);
        if (m) res(m[1]!);
      });
      server.on('exit', () => rej(new Error(`page-server exited: ${err}`)));
    });
    const r = ckpt([
      'pre-dump',
      '-t',
      String(f.pid),
      '-D',
      dir,
      '--page-server',
      '--address',
      '127.0.0.1',
      '--port',
      port,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /-> page server 127\.0\.0\.1:/);
    await new Promise((res) => server.once('exit', res));
    assert.ok(
      readdirSync(psDir).some((x) => /^pagemap-\d+\.img$/.test(x)),
      'pagemap on the server side',
    );
    const local = readdirSync(dir);
    for (const x of ['inventory.img', 'stats-dump', 'irmap-cache']) assert.ok(local.includes(x), x);
    assert.ok(!local.some((x) => x.startsWith('pagemap-')), 'no pagemap in -D');
  } finally {
    server.kill();
  }
});

test('verify checks what pre-dump wrote', async () => {
  const f = await Fixture.start('static', ['4']);
  fixtures.push(f);
  const dir = newDir();
  assert.equal(ckpt(['pre-dump', '-t', String(f.pid), '-D', dir]).status, 0);
  const v = ckpt(['verify', dir]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /ok: 1 image set/);
});

test('SIGINT cancels: one line, status 130, directory marked incomplete, target running', async () => {
  const f = await Fixture.start('static', ['64']);
  fixtures.push(f);
  const dir = newDir();
  const r = ckpt(['pre-dump', '-t', String(f.pid), '-D', dir, '--buffer-size', '1M', '--freeze'], {
    CKPT_FAULT: 'sigint-after:1',
  });
  assert.equal(r.status, 130, r.stderr);
  assertOneLine(r.stderr, /cancelled; .* is incomplete/);
  assert.ok(readdirSync(dir).includes('INCOMPLETE'));
  assert.doesNotMatch(f.state(), /^[Tt]$/);
});
