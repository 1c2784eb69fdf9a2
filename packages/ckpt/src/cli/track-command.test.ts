/**
 * Interrupted pre-dumps leave nothing in the target: SIGINT/SIGTERM during a first pre-dump close the
 * userfaultfd it injected; after a SIGKILL, the record tells `ckpt track --list`/`--stop` (and the next
 * pre-dump) what to close.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { findRecord, uffdWpUnsupportedReason } from '../mem/index.js';
import { CKPT_BIN, countUserfaultfds, Fixture, runCkpt, Scratch } from '../testing/index.js';

const noUffd = uffdWpUnsupportedReason() ?? false;
const scratch = new Scratch('ckpt-track-test-');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start a first pre-dump of `pid`, wait until its userfaultfd is in the target, send `sig`. */
async function interrupt(pid: number, sig: NodeJS.Signals, dir: string) {
  const c = spawn(process.execPath, [CKPT_BIN, 'pre-dump', '-t', String(pid), '-D', dir], {
    stdio: 'ignore',
  });
  const done = new Promise<{ code: number | null; signal: string | null }>((r) =>
    c.on('exit', (code, signal) => r({ code, signal })),
  );
  // wait for the record of a finished injection (a SIGKILL in the middle of one kills the target too)
  let seen = false;
  for (let i = 0; i < 2000 && !seen; i++) {
    seen = findRecord(pid)?.phase === 'tracking' && countUserfaultfds(pid) > 0;
    if (!seen) await sleep(2);
  }
  assert.ok(seen, 'the pre-dump injected its userfaultfd');
  c.kill(sig);
  return done;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  test(`${sig} during a first pre-dump closes the target's userfaultfd`, { skip: noUffd }, async () => {
    await using f = await Fixture.start('static', ['256']);
    const r = await interrupt(f.pid, sig, join(scratch.root, sig));
    assert.notEqual(r.code, 0, 'the pre-dump was interrupted (else it ended before the signal)');
    assert.equal(countUserfaultfds(f.pid), 0);
    assert.equal(findRecord(f.pid), undefined, 'no record left either');
  });
}

test('after a SIGKILL, ckpt track --list shows the target and --stop closes it', {
  skip: noUffd,
}, async () => {
  await using f = await Fixture.start('static', ['256']);
  const r = await interrupt(f.pid, 'SIGKILL', join(scratch.root, 'kill'));
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(countUserfaultfds(f.pid), 1, 'a SIGKILL cannot be caught: it stays');
  const list = runCkpt(['track', '--list', '--json']);
  assert.equal(list.status, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as { pid: number; fd: number | null }[];
  assert.ok(
    rows.some((x) => x.pid === f.pid && x.fd !== null),
    list.stdout,
  );
  const stop = runCkpt(['track', '--stop', '-t', String(f.pid)]);
  assert.equal(stop.status, 0, stop.stderr);
  assert.match(stop.stdout, /closed userfaultfd fd \d+/);
  assert.equal(countUserfaultfds(f.pid), 0);
  assert.ok(
    !(JSON.parse(runCkpt(['track', '--list', '--json']).stdout) as { pid: number }[]).some(
      (x) => x.pid === f.pid,
    ),
  );
});

test('pre-dump --help says where the userfaultfd stays and how to end it', () => {
  const r = runCkpt(['pre-dump', '--help']);
  assert.equal(r.status, 0);
  assert.match(
    r.stdout.replace(/\s+/g, ' '),
    /keeps a userfaultfd open in each target .* until the chain ends: `ckpt dump` closes it in the frozen target \(as does a pre-dump with --freeze\), and `ckpt track --stop -t PID` closes it/,
  );
});

test('ckpt track needs --list or --stop', () => {
  const r = runCkpt(['track']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--list or --stop/);
});
