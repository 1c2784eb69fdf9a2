import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { kill as sysKill } from '../sys/index.js';
import {
  CKPT_BIN,
  countUserfaultfds,
  Fixture,
  NetnsPair,
  NO_OPENSSL,
  pidInChildNamespace,
  sleep,
  TestCerts,
} from '../testing/index.js';
import { availableCodecs } from '../xfer/index.js';

const pair = NetnsPair.create('mg', 41);
const skip = typeof pair === 'string' ? pair : false;
const root = mkdtempSync(join(tmpdir(), 'ckpt-migrate-test-'));
let port = 27400 + (process.pid % 500);

/** Every ckpt started here: killed at the end whatever happened (a receiver takes its pid namespace along). */
const runs: Run[] = [];

after(() => {
  for (const r of runs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  if (typeof pair !== 'string') pair.close();
  rmSync(root, { recursive: true, force: true });
});

interface Run {
  readonly child: ChildProcess;
  out: string;
  err: string;
  readonly exited: Promise<number | null>;
}

/** Start `ckpt ARGS` inside namespace `ns` (receive: in a fresh pid namespace too, its pid 1). */
function start(ns: 'a' | 'b', args: string[], pidns = true): Run {
  const p = pair as NetnsPair;
  const argv =
    ns === 'b' && pidns
      ? p.exec('b', [
          'unshare',
          '--pid',
          '--fork',
          '--mount-proc',
          '--kill-child',
          process.execPath,
          CKPT_BIN,
          ...args,
        ])
      : p.enter(ns, [process.execPath, CKPT_BIN, ...args]);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const run: Run = {
    child,
    out: '',
    err: '',
    exited: new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : null)))),
  };
  runs.push(run);
  child.stdout!.on('data', (b: Buffer) => {
    run.out += b.toString();
  });
  child.stderr!.on('data', (b: Buffer) => {
    run.err += b.toString();
  });
  return run;
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  for (let t = 0; t < ms; t += 20) {
    if (ok()) return;
    await sleep(20);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** A receiver in namespace b; resolves once it listens. */
async function receiver(dir: string, extra: string[] = []): Promise<{ run: Run; to: string }> {
  const p = ++port;
  const run = start('b', [
    'receive',
    '-D',
    dir,
    '--port',
    String(p),
    '--address',
    (pair as NetnsPair).ips.b,
    ...extra,
  ]);
  await until(
    'the receiver to listen',
    () => run.err.includes('listening on') || run.child.exitCode !== null,
  );
  assert.ok(run.err.includes('listening on'), run.err);
  return { run, to: `${(pair as NetnsPair).ips.b}:${p}` };
}

const globalPid = pidInChildNamespace;

/** SIGUSR1 to `pid`, then the fixture's `n`-th STALL and CHECK lines. */
async function report(f: Fixture, pid: number, n: number): Promise<{ stallUs: number; check: string }> {
  sysKill(pid, 10);
  const lines = () => readFileSync(f.logFile, 'utf8').split('\n');
  await until(`report ${n} of ${pid}`, () => lines().filter((l) => l.startsWith('CHECK ')).length >= n);
  const stall = lines().filter((l) => l.startsWith('STALL '))[n - 1]!;
  return {
    stallUs: Number(stall.split(' ')[2]),
    check: lines().filter((l) => l.startsWith('CHECK '))[n - 1]!,
  };
}

/** Whether `pid` is alive and not stopped: running (R), sleeping (S) or in an uninterruptible wait (D). */
/**
 * What a migration that failed before the hand-over leaves: the source's one line matching `reason`, the
 * receiver ended non-zero with no image set left in `dir`, the target thawed, untracked, its memory intact.
 */
async function assertSourceRunsOn(
  f: Fixture,
  src: Run,
  recv: Run,
  dir: string,
  reason: RegExp,
): Promise<void> {
  assert.equal(await src.exited, 1, src.err);
  assert.match(src.err, reason, "the destination's reason");
  assert.equal(src.err.trim().split('\n').length, 1, `one line: ${src.err}`);
  assert.notEqual(await recv.exited, 0);
  assert.deepEqual(
    readdirSync(dir).filter((n) => /^\d+$/.test(n)),
    [],
    'the destination removed the sets',
  );
  await until('the thaw', () => runsOn(f.pid));
  assert.equal(countUserfaultfds(f.pid), 0, 'tracking ended in the target');
  assert.match((await report(f, f.pid, 1)).check, /^CHECK ok/);
}

function runsOn(pid: number): boolean {
  return /^[RSD]$/.test(state(pid) ?? '');
}

function state(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
  } catch {
    return undefined;
  }
}

describe('ckpt migrate to ckpt receive across two network namespaces', { skip }, () => {
  it('a process writing memory migrates and continues there: same pid, memory checked, heartbeat alive', async (t) => {
    await using f = await Fixture.start('migratee', ['64', '500'], 30_000, (pair as NetnsPair).enter('a'));
    const dir = join(root, 'ok');
    const { run: recv, to } = await receiver(dir, ['--json']);
    const codec = availableCodecs().includes('lz4') ? 'lz4' : 'none';
    const src = start('a', [
      'migrate',
      '-t',
      String(f.pid),
      '--to',
      to,
      '--json',
      '-D',
      join(root, 'ok-src'),
      '--compress',
      codec,
    ]);
    assert.equal(await src.exited, 0, src.err);
    const lines = src.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>);
    const result = lines.at(-1)!.migrated!;
    assert.ok(result, src.out);
    const iterations = lines.filter((l) => l.iteration).map((l) => l.iteration!);
    assert.ok(iterations.length >= 2, 'at least one pre-dump and the final dump');
    assert.equal(iterations.at(-1)!.final, true);
    assert.equal(result.restoredPid, f.pid, 'the same pid at the destination');
    assert.equal(result.codec, codec);
    if (codec !== 'none')
      assert.ok(Number(result.bytesSent) < Number(result.pageBytes), 'pages compressed on the wire');
    // the source is gone (killed after the destination reported the tree running)
    await until('the source to die', () => state(f.pid) === undefined || state(f.pid) === 'Z');
    const there = globalPid(f.pid);
    assert.ok(there, 'the restored process runs in the receiver pid namespace');
    const r = await report(f, there, 1);
    assert.match(r.check, /^CHECK ok \d+/, 'memory at the destination is what the source had');
    t.diagnostic(
      `heartbeat gap across the migration: ${(r.stallUs / 1000).toFixed(1)} ms; ${JSON.stringify(result)}`,
    );
    const r2 = await report(f, there, 2); // it goes on writing and stays consistent
    assert.match(r2.check, /^CHECK ok \d+/);
    assert.ok(Number(r2.check.split(' ')[2]) > Number(r.check.split(' ')[2]), 'the writer goes on');
    assert.ok(!existsSync(join(root, 'ok-src', 'parent')));
    sysKill(there, 9);
    assert.equal(await recv.exited, 137, 'receive exits with the tree status (killed: 128 + 9)');
    assert.match(recv.out, /"restored":\{"pid":\d+/);
    assert.match(recv.out, /"prebuilt":\{"kept":[1-9]/, 'the restore adopted the process built meanwhile');
  });

  it('dirtying faster than --bandwidth: give-up leaves the target running and untracked; finish migrates anyway', async () => {
    await using f = await Fixture.start('migratee', ['4', '20000'], 30_000, (pair as NetnsPair).enter('a'));
    const dir = join(root, 'slow');
    const { run: recv, to } = await receiver(dir);
    const args = ['migrate', '-t', String(f.pid), '--to', to, '--bandwidth', '8M', '--max-downtime', '10'];
    const src = start('a', [...args, '--on-no-convergence', 'give-up']);
    assert.equal(await src.exited, 1, src.err);
    assert.match(src.err, /^ckpt: .*(the target writes .* the link carries|no longer shrinks)/m);
    assert.equal(src.err.trim().split('\n').length, 1, `one line: ${src.err}`);
    assert.notEqual(await recv.exited, 0);
    assert.deepEqual(
      readdirSync(dir).filter((n) => /^\d+$/.test(n)),
      [],
      'the destination removed what it received',
    );
    assert.equal(countUserfaultfds(f.pid), 0, 'tracking ended in the target');
    assert.ok(runsOn(f.pid), `running, not stopped (state ${state(f.pid)})`);
    assert.match((await report(f, f.pid, 1)).check, /^CHECK ok/);

    const dir2 = join(root, 'slow2');
    const { run: recv2, to: to2 } = await receiver(dir2, ['-d']);
    const src2 = start('a', [
      'migrate',
      '-t',
      String(f.pid),
      '--to',
      to2,
      '--bandwidth',
      '8M',
      '--max-downtime',
      '10',
      '--json',
    ]);
    assert.equal(await src2.exited, 0, src2.err);
    assert.match(src2.out, /"reason":"no-convergence"/);
    assert.equal(await recv2.exited, 0, recv2.err);
    // -d in a pid namespace whose init (the receiver) exited: the tree went with it; the data was checked
    // by the destination's restore, the point here is the source's decision
  });

  it('over mutual TLS', { skip: NO_OPENSSL }, async () => {
    const certs = new TestCerts(root);
    certs.ca('ca');
    certs.leaf('dst', 'ca', 'serverAuth', (pair as NetnsPair).ips.b);
    certs.leaf('src', 'ca', 'clientAuth', (pair as NetnsPair).ips.a);
    const flags = (name: string) => {
      const p = certs.paths('ca', name);
      return ['--tls', '--tls-cacert', p.cacert, '--tls-cert', p.cert, '--tls-key', p.key];
    };
    await using f = await Fixture.start('migratee', ['16', '200'], 30_000, (pair as NetnsPair).enter('a'));
    const { run: recv, to } = await receiver(join(root, 'tls'), flags('dst'));
    const src = start('a', ['migrate', '-t', String(f.pid), '--to', to, '--json', ...flags('src')]);
    assert.equal(await src.exited, 0, src.err);
    const there = globalPid(f.pid);
    assert.ok(there);
    assert.match((await report(f, there, 1)).check, /^CHECK ok/);
    sysKill(there, 9);
    assert.equal(await recv.exited, 137);
    // a source without a certificate the destination trusts is refused, and the target runs on
    certs.ca('rogue');
    certs.leaf('rogue-src', 'rogue', 'clientAuth', (pair as NetnsPair).ips.a);
    await using g = await Fixture.start('migratee', ['16', '200'], 30_000, (pair as NetnsPair).enter('a'));
    const { run: recv2, to: to2 } = await receiver(join(root, 'tls2'), flags('dst'));
    const rogue = certs.paths('ca', 'rogue-src');
    const bad = start('a', [
      'migrate',
      '-t',
      String(g.pid),
      '--to',
      to2,
      '--tls',
      '--tls-cacert',
      rogue.cacert,
      '--tls-cert',
      join(root, 'rogue-src.pem'),
      '--tls-key',
      join(root, 'rogue-src.key'),
    ]);
    assert.equal(await bad.exited, 1, bad.err);
    assert.equal(bad.err.trim().split('\n').length, 1, bad.err);
    await until('the refusal', () => recv2.err.includes('refused'));
    assert.equal(recv2.child.exitCode, null, 'the receiver waits on for a source it trusts');
    recv2.child.kill('SIGKILL'); // unshare ignores SIGTERM; --kill-child takes the receiver along
    assert.notEqual(await recv2.exited, 0);
    assert.deepEqual(
      readdirSync(join(root, 'tls2')).filter((n) => /^\d+$/.test(n)),
      [],
    );
    assert.ok(runsOn(g.pid), `running, not stopped (state ${state(g.pid)})`);
    assert.equal(countUserfaultfds(g.pid), 0);
  });

  it('the restore fails at the destination after the freeze: the source is thawed and runs on, untracked', async () => {
    await using f = await Fixture.start('migratee', ['16', '200'], 30_000, (pair as NetnsPair).enter('a'));
    const dir = join(root, 'taken');
    // a receiver in our own pid namespace: the pid is taken there (by the source itself)
    const p = ++port;
    const recv = start(
      'b',
      ['receive', '-D', dir, '--port', String(p), '--address', (pair as NetnsPair).ips.b],
      false,
    );
    await until(
      'the receiver to listen',
      () => recv.err.includes('listening on') || recv.child.exitCode !== null,
    );
    const src = start('a', ['migrate', '-t', String(f.pid), '--to', `${(pair as NetnsPair).ips.b}:${p}`]);
    await assertSourceRunsOn(f, src, recv, dir, /^ckpt: pid \d+ is taken/);
  });

  it('the destination killed mid-way: the source keeps running, unharmed and untracked', async () => {
    await using f = await Fixture.start('migratee', ['64', '500'], 30_000, (pair as NetnsPair).enter('a'));
    const { run: recv, to } = await receiver(join(root, 'dkill'));
    const src = start('a', ['migrate', '-t', String(f.pid), '--to', to, '--bandwidth', '16M']);
    await sleep(1500);
    recv.child.kill('SIGKILL'); // unshare --kill-child takes the receiver with it
    assert.equal(await src.exited, 1, src.err);
    assert.equal(src.err.trim().split('\n').length, 1, `one line: ${src.err}`);
    // the link's loss, not what it broke here (a page write), and where the process is
    assert.match(
      src.err,
      /^ckpt: (connection to )?the destination .*(closed the connection|ECONNRESET|EPIPE)/,
    );
    assert.match(src.err, new RegExp(`; process ${f.pid} keeps running here\n$`));
    assert.ok(runsOn(f.pid), `running, not stopped (state ${state(f.pid)})`);
    assert.equal(countUserfaultfds(f.pid), 0, 'tracking ended in the target');
    assert.match((await report(f, f.pid, 1)).check, /^CHECK ok/);
  });

  it("the destination's pre-built process lost with pages held only there: the source runs on, the reason said", async () => {
    await using f = await Fixture.start('migratee', ['64', '500'], 30_000, (pair as NetnsPair).enter('a'));
    const dir = join(root, 'pkill');
    const { run: recv, to } = await receiver(dir, ['-v3']);
    const src = start('a', ['migrate', '-t', String(f.pid), '--to', to, '--bandwidth', '16M']);
    await until('the first pre-build', () => recv.err.includes('pre-built '), 60_000);
    const built = globalPid(f.pid);
    assert.ok(built, 'the pre-built process is in the receiver pid namespace');
    process.kill(built, 'SIGKILL'); // the root's pages received so far were only there
    await assertSourceRunsOn(f, src, recv, dir, /^ckpt: .*pre-built process/);
  });

  it('the source killed mid-way: nothing is left on the destination, the pre-built process neither', async () => {
    await using f = await Fixture.start('migratee', ['64', '500'], 30_000, (pair as NetnsPair).enter('a'));
    const dir = join(root, 'skill');
    const { run: recv, to } = await receiver(dir, ['-v3']);
    // -D here: a SIGKILLed ckpt migrate cannot remove its default temporary work directory (metadata only)
    const work = join(root, 'skill-src');
    const src = start('a', ['migrate', '-t', String(f.pid), '--to', to, '--bandwidth', '16M', '-D', work]);
    // killed once the first set is pre-built there: a stopped process with the target's pid
    await until('the first pre-build', () => recv.err.includes('pre-built '), 60_000);
    const built = globalPid(f.pid);
    assert.ok(built, 'the pre-built process is in the receiver pid namespace');
    assert.equal(state(built), 't', 'held stopped under ptrace');
    src.child.kill('SIGKILL');
    assert.notEqual(await recv.exited, 0, recv.err);
    assert.equal(state(built), undefined, 'the pre-built process is gone');
    assert.match(recv.err, /^ckpt: /m);
    assert.deepEqual(
      readdirSync(dir).filter((n) => /^\d+$/.test(n)),
      [],
      'no image set left',
    );
    assert.ok(runsOn(f.pid), `the target runs on (state ${state(f.pid)})`);
    assert.match((await report(f, f.pid, 1)).check, /^CHECK ok/);
  });
});

describe('ckpt receive given bad input', () => {
  it('malformed traffic: one line, a non-zero exit, nothing left in DIR', async () => {
    const dir = join(root, 'garbage');
    const p = ++port;
    const child = spawn(
      process.execPath,
      [CKPT_BIN, 'receive', '-D', dir, '--port', String(p), '--address', '127.0.0.1'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    await until('the receiver to listen', () => err.includes('listening on'));
    const sock = connect(p, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.padEnd(64, ' ')));
    assert.equal(await exited, 1);
    sock.destroy();
    const lines = err
      .trim()
      .split('\n')
      .filter((l) => !l.includes('listening on'));
    assert.equal(lines.length, 1, err);
    assert.match(lines[0]!, /^ckpt: .*frame/);
    assert.deepEqual(
      readdirSync(dir).filter((n) => /^\d+$/.test(n)),
      [],
    );
  });
});
