import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readMaps, readStatus } from '../proc/index.js';
import { Fixture } from '../testing/index.js';
import { findScratchMappings, freeze, PtraceError, RemoteMemory } from './index.js';

const here = dirname(fileURLToPath(import.meta.url));

/** A tracer in a separate Node process: freezes pid, infects it (scratch mapping, a mapping), then `mode`. */
const TRACER = `
import { freeze, Injector } from ${JSON.stringify(join(here, 'index.js'))};
const [pid, mode] = [Number(process.argv[2]), process.argv[3]];
if (mode === 'own-handler') process.on('SIGTERM', () => { console.log('OWN'); setTimeout(() => process.exit(0), 20); });
const frozen = freeze(pid);
const inj = Injector.infect(frozen);
const addr = inj.mmap(65536);
console.log(JSON.stringify({ addr }));
if (mode === 'throw') setTimeout(() => { throw new Error('boom'); }, 300);
else if (mode === 'exit') setTimeout(() => process.exit(7), 300);
else setInterval(() => {}, 1000);
`;

function peek(pid: number, addr: number, len: number): Buffer {
  using mem = RemoteMemory.open(pid);
  return mem.read(addr, len);
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  addr: number;
}

async function runTracer(pid: number, mode: string, whileFrozen: (child: number) => void): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-tracer-'));
  const script = join(dir, 'tracer.mjs');
  writeFileSync(script, TRACER);
  try {
    const child = spawn(process.execPath, [script, String(pid), mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let addr = 0;
    const done = new Promise<Outcome>((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal, stdout, addr }));
    });
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /\{"addr":(\d+)\}/.exec(stdout);
      if (m && addr === 0) {
        addr = Number(m[1]);
        whileFrozen(child.pid!);
        if (mode === 'term' || mode === 'own-handler') child.kill('SIGTERM');
        if (mode === 'int') child.kill('SIGINT');
      }
    });
    child.stderr.on('data', () => {});
    const out = await done;
    out.addr = addr;
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const expected: Record<string, (o: Outcome) => void> = {
  term: (o) => assert.equal(o.signal, 'SIGTERM'),
  int: (o) => assert.equal(o.signal, 'SIGINT'),
  throw: (o) => assert.equal(o.code, 1),
  exit: (o) => assert.equal(o.code, 7),
  'own-handler': (o) => {
    assert.equal(o.code, 0);
    assert.match(o.stdout, /OWN/);
  },
};

for (const mode of Object.keys(expected)) {
  test(`a tracer that ends by ${mode} leaves the target running and cured`, async () => {
    await using f = await Fixture.start('injectee', ['1']);
    const site = readMaps(f.pid).find((v) => v.exec && !v.path.startsWith('['))!.start;
    const code = peek(f.pid, site, 8);
    const o = await runTracer(f.pid, mode, (child) => {
      assert.equal(f.state(), 't');
      assert.deepEqual(peek(f.pid, site, 8), code, 'no code byte is patched while infected');
      assert.deepEqual(
        findScratchMappings(f.pid).map((m) => m.tracer),
        [child],
        'the scratch mapping is signed by the tracer',
      );
      assert.throws(
        () => freeze(f.pid),
        (e: unknown) => e instanceof PtraceError && e.code === 'EBUSY' && e.tracerPid === child,
      );
    });
    expected[mode]!(o);
    assert.ok(o.addr > 0);
    assert.match(f.state(), /^[SR]$/);
    assert.equal(readStatus(f.pid).tracerPid, 0);
    assert.deepEqual(peek(f.pid, site, 8), code);
    assert.ok(!readMaps(f.pid).some((v) => v.start <= o.addr && o.addr < v.end), 'injected mapping removed');
    assert.deepEqual(findScratchMappings(f.pid), [], 'the scratch mapping too');
    assert.doesNotMatch(readFileSync(f.logFile, 'utf8'), /READ-RETURNED/);
  });
}
