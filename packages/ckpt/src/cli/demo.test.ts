/**
 * `ckpt demo` end to end, as a user runs it (not on a terminal: plain lines, no bars): the workload is
 * built and started, four pre-dumps chained, the chain checked against the frozen memory, the report and
 * the log excerpt printed, and the workload gone afterwards, also when the demo is interrupted.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readState } from '../proc/index.js';
import { parseRun } from '../report/index.js';
import { skipUnlessAvailable } from '../testing/index.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/ckpt.js');
const root = mkdtempSync(join(tmpdir(), 'ckpt-demo-test-'));
const noGcc = skipUnlessAvailable(
  'gcc',
  spawnSync('gcc', ['--version']).status === 0 ? false : 'gcc is not installed',
);
after(() => rmSync(root, { recursive: true, force: true }));

function assertGone(pid: number): void {
  const st = readState(pid);
  assert.ok(st === undefined || st === 'Z', `workload ${pid} is still there (state ${st})`);
}

test('ckpt demo --size 32: chain exact, report, log excerpt, workload gone', {
  skip: noGcc ?? false,
}, () => {
  const dir = join(root, 'run1');
  const r = spawnSync(process.execPath, [CLI, 'demo', '--size', '32', '--dir', dir], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  assert.equal(r.status, 0, `ckpt demo failed (${r.status}): ${r.stderr}\n${r.stdout}`);
  const out = r.stdout;
  assert.doesNotMatch(out + r.stderr, /\x1b\[/, 'terminal escapes in plain output');

  const pid = Number(/^workload: pid (\d+),/m.exec(out)?.[1]);
  assert.ok(pid > 0, out);
  assertGone(pid);
  assert.match(out, new RegExp(`^workload ${pid} killed$`, 'm'));

  for (let k = 1; k <= 4; k++) assert.match(out, new RegExp(`^iteration ${k}/4: `, 'm'));
  const lines = out.split('\n');
  const head = lines.findIndex((l) => /^ {2}iteration +pages written/.test(l));
  assert.ok(head > 0, out);
  const table = lines.slice(head, head + 6); // header, 4 iterations, all
  assert.match(table[0]!, /pages written +parent holes +time +stopped +throughput/);
  for (let k = 1; k <= 3; k++) assert.match(table[k]!, new RegExp(`^ {2}${k} +[\\d,]+ +[\\d,]+ `));
  assert.match(table[4]!, /^ {2}4 frozen +[\d,]+ +[\d,]+ /);
  assert.match(table[5]!, /^ {2}all +[\d,]+ /);

  const check = /^chain check: (\d+) mismatched pages of (\d+); (\d+) present pages missing/m.exec(out);
  assert.ok(check, out);
  assert.equal(Number(check[1]), 0, out);
  assert.equal(Number(check[3]), 0, out);
  assert.ok(Number(check[2]) >= 8192, `only ${check[2]} pages compared`); // 32 MiB and more

  const report = /^report: (\S+) /m.exec(out)?.[1];
  assert.equal(report, join(dir, 'report.html'));
  assert.match(readFileSync(report, 'utf8'), /<svg/);
  const run = parseRun(readFileSync(join(dir, 'RUN.json'), 'utf8'));
  assert.equal(run.iterations?.length, 4);
  assert.equal(run.iterations?.[3]?.frozen, true);
  assert.equal(run.iterations?.[1]?.frozen, false);
  assert.ok((run.iterations?.[1]?.pagesWritten ?? 0) < (run.iterations?.[0]?.pagesWritten ?? 0));
  assert.equal(run.summary.chainCheck, 'ok');

  const log = /^log: (\d+) lines in (\S+) /m.exec(out);
  assert.ok(log, out);
  assert.ok(Number(log[1]) >= 4);
  assert.equal(log[2], join(dir, 'ckpt.log.bin'));
  const logLines = out.split('\n').filter((l) => /^ {2}\d{4}-\d\d-\d\dT[\d:.]+Z (INFO|WARN|DEBUG) /.test(l));
  assert.ok(logLines.length >= 4, out);
  assert.ok(
    logLines.some((l) => l.includes('iteration 4 of 4 done')),
    out,
  );

  assert.equal(existsSync(join(dir, 'run')), false, 'the images were not removed');
  assert.equal(r.stderr, '');
});

test('ckpt demo interrupted (SIGINT) while it runs: status 130, one line, workload gone', {
  skip: noGcc ?? false,
}, async () => {
  const dir = join(root, 'run2');
  const c = spawn(process.execPath, [CLI, 'demo', '--size', '32', '--dir', dir]);
  let stdout = '';
  let stderr = '';
  let sent = false;
  c.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  c.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (!sent && /^iteration 1\/4: /m.test(stdout)) {
      sent = true;
      c.kill('SIGINT');
    }
  });
  const status = await new Promise<number | null>((res) => c.on('close', (s) => res(s)));
  assert.ok(sent, `never saw iteration 1: ${stdout}${stderr}`);
  const pid = Number(/^workload: pid (\d+),/m.exec(stdout)?.[1]);
  assert.ok(pid > 0, stdout);
  assertGone(pid);
  assert.equal(status, 130, `${stdout}${stderr}`);
  assert.equal(stderr.trim().split('\n').length, 1, stderr);
  assert.match(stderr, /^ckpt: .*cancelled/);
});

test('ckpt demo SIGKILLed: the workload notices its owner is gone and exits', {
  skip: noGcc ?? false,
}, async () => {
  const c = spawn(process.execPath, [CLI, 'demo', '--size', '16', '--dir', join(root, 'run3')]);
  let stdout = '';
  const pid = await new Promise<number>((res, rej) => {
    c.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /^workload: pid (\d+),/m.exec(stdout);
      if (m) res(Number(m[1]));
    });
    c.on('close', () => rej(new Error(`ckpt demo ended before its workload started: ${stdout}`)));
  });
  c.kill('SIGKILL');
  await new Promise((res) => c.on('close', res));
  const deadline = Date.now() + 20_000; // the workload polls its owner once a second
  while (Date.now() < deadline) {
    const st = readState(pid);
    if (st === undefined || st === 'Z') break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assertGone(pid);
});

test('ckpt demo --size 0 is one usage line, status 2, no workload started', () => {
  const r = spawnSync(process.execPath, [CLI, 'demo', '--size', '0', '--dir', join(root, 'bad')], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^ckpt: bad --size 0/);
  assert.equal(r.stdout, '');
});
