// Crash safety: a child process logs (records stay in the buffer: a long flush interval), then ends in
// each of the ways a program ends. Every record must decode.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { decodeFile } from '../decode/index.js';

const dir = mkdtempSync(join(tmpdir(), 'binlog-crash-'));
const script = join(dir, 'app.mjs');
const RECORDS = 1000;
writeFileSync(
  script,
  `import { createLogger } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, '..', 'index.js')).href)};
const [file, mode] = process.argv.slice(2);
const log = createLogger({ dest: file, flushIntervalMs: 60000 });
for (let i = 0; i < ${RECORDS}; i++) log.info('record %d of %s', i, mode);
if (mode === 'exit') process.exit(3);
if (mode === 'throw') throw new Error('boom');
if (mode === 'reject') Promise.reject(new Error('nope'));
if (mode === 'handler') {
  process.on('SIGTERM', () => { log.info('handler ran'); log.flush(); process.exit(0); });
}
if (mode === 'signal' || mode === 'handler') {
  setInterval(() => {}, 1000);
  process.stdout.write('ready\\n');
}
`,
);

function run(
  mode: string,
  signal?: NodeJS.Signals,
): Promise<{ code: number | null; sig: NodeJS.Signals | null; file: string }> {
  const file = join(dir, `${mode}-${signal ?? 'none'}.blog`);
  const child = spawn(process.execPath, [script, file, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d: Buffer) => {
    if (signal && d.toString().includes('ready')) child.kill(signal);
  });
  return new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig, file })));
}

function assertAll(file: string, mode: string, extra: string[] = []): void {
  const { events, stats } = decodeFile(file);
  assert.equal(stats.skippedBytes, 0);
  assert.equal(events.length, RECORDS + extra.length);
  events.slice(0, RECORDS).forEach((e, i) => {
    assert.equal(e.msg, `record ${i} of ${mode}`);
  });
  assert.deepEqual(
    events.slice(RECORDS).map((e) => e.msg),
    extra,
  );
}

test('process.exit()', async () => {
  const r = await run('exit');
  assert.equal(r.code, 3);
  assertAll(r.file, 'exit');
});

test('uncaught exception', async () => {
  const r = await run('throw');
  assert.equal(r.code, 1);
  assertAll(r.file, 'throw');
});

test('unhandled rejection', async () => {
  const r = await run('reject');
  assert.equal(r.code, 1);
  assertAll(r.file, 'reject');
});

test('natural end of the program', async () => {
  const r = await run('end');
  assert.equal(r.code, 0);
  assertAll(r.file, 'end');
});

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  test(`${sig} without a handler: flushed, then the default action (killed by ${sig})`, async () => {
    const r = await run('signal', sig);
    assert.equal(r.sig, sig);
    assertAll(r.file, 'signal');
  });
}

test("SIGTERM with the program's own handler: flushed, and the handler decides", async () => {
  const r = await run('handler', 'SIGTERM');
  assert.equal(r.code, 0);
  assertAll(r.file, 'handler', ['handler ran']);
});
