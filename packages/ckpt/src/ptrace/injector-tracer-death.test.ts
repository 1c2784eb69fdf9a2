/**
 * SIGKILL of the tracer at every step of an injection: a tracer process (a child node) freezes the
 * injectee, infects it, runs calls, cures and thaws, and kills itself with SIGKILL at step k (the
 * injector's onStep hook). For every k the target must run on: alive and not stopped, its data checksum
 * unchanged, its interrupted read() restarted (no READ-RETURNED), and its code as in its executable at
 * every step (on the fallback path that patches a stub at the site: except within the first and last
 * call, where only the thread's survival is asserted); what it keeps of ours is a scratch mapping at most.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readMaps } from '../proc/index.js';
import { Scratch } from '../testing/index.js';
import { findScratchMappings, RemoteMemory } from './index.js';

const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const TRACER = `
import { freeze, Injector } from ${JSON.stringify(pathToFileURL(join(here, 'index.js')).href)};
const [pid, killAt, patchSite] = process.argv.slice(2).map(Number);
const steps = [];
const onStep = (s) => {
  steps.push(s);
  if (steps.length - 1 === killAt) process.kill(process.pid, 'SIGKILL');
};
const frozen = freeze(pid);
frozen.keepInfection = true;
const inj = Injector.infect(frozen, pid, undefined, undefined, { onStep, patchSite: patchSite === 1 });
inj.syscall(39);
inj.hold();
if (Injector.infect(frozen, pid) !== inj) throw new Error('hold: not taken over');
inj.batch([{ nr: 39 }, { nr: 3, args: [99999] }, { nr: 39 }]);
inj.hold(); // after a batch: in the signal path already, no interrupt
if (Injector.infect(frozen, pid) !== inj) throw new Error('hold: not taken over');
for (const tid of frozen.tids) if (tid !== pid) inj.guest(tid)?.batch([{ nr: 186 }, { nr: 39 }]);
const a = inj.mmap(65536);
inj.write(a, Buffer.from('x'));
inj.syscall(3, 99999);
inj.cure();
frozen.thaw();
console.log(JSON.stringify(steps));
`;

async function checksum(logFile: string, signal: () => void, n: number): Promise<string> {
  signal();
  const re = new RegExp(`^SUM ${n} ([0-9a-f]+)$`, 'm');
  for (let i = 0; i < 500; i++) {
    const m = re.exec(readFileSync(logFile, 'utf8'));
    if (m) return m[1]!;
    await sleep(10);
  }
  throw new Error(`no checksum ${n}`);
}

for (const patchSite of [false, true]) {
  test(`SIGKILL of the tracer at any step of an injection leaves the target running, unharmed (${patchSite ? 'stub patched at the site: code bytes differ within the first and last call' : "the target's own syscall; ret and rt_sigreturn: no code byte changes"})`, async () => {
    const s = new Scratch('ckpt-injector-death-');
    const script = join(s.root, 'tracer.mjs');
    writeFileSync(script, TRACER);
    const f = await s.start('injectee', ['2']);
    const site = readMaps(f.pid).find((v) => v.exec && !v.path.startsWith('['))!.start;
    const peekSite = () => {
      using mem = RemoteMemory.open(f.pid);
      return mem.read(site, 64);
    };
    const code = peekSite();
    let n = 1;
    const before = await checksum(f.logFile, () => f.signal(10), n++);
    const full = spawnSync(process.execPath, [script, String(f.pid), '-1', patchSite ? '1' : '0'], {
      encoding: 'utf8',
    });
    assert.equal(full.status, 0, full.stderr);
    const steps = JSON.parse(full.stdout) as string[];
    assert.ok(steps.length >= 15, `steps: ${steps.join(' ')}`);
    let inSite = false;
    for (let k = 0; k < steps.length; k++) {
      if (steps[k] === 'site-patched') inSite = true;
      const r = spawnSync(process.execPath, [script, String(f.pid), String(k), patchSite ? '1' : '0'], {
        encoding: 'utf8',
      });
      assert.equal(r.signal, 'SIGKILL', `tracer killed at step ${k} (${steps[k]}): ${r.stderr}`);
      await sleep(20);
      const what = `killed at step ${k} (${steps[k]})`;
      assert.match(f.state(), /^[SR]$/, `${what}: the target runs`);
      assert.equal(await checksum(f.logFile, () => f.signal(10), n++), before, `${what}: data unchanged`);
      assert.doesNotMatch(readFileSync(f.logFile, 'utf8'), /READ-RETURNED/, `${what}: read() restarted`);
      if (!inSite || !patchSite)
        assert.deepEqual(peekSite(), code, `${what}: code bytes as in the executable`);
      else if (!peekSite().equals(code)) {
        // ckpt died within a site call: the bytes stay, the thread does not run them; put them back
        using mem = RemoteMemory.open(f.pid);
        mem.write(site, code);
      }
      for (const m of findScratchMappings(f.pid)) {
        assert.notEqual(m.tracer, process.pid, `${what}: a scratch mapping left is recognisable`);
      }
      if (steps[k] === 'site-restored') inSite = false;
    }
    assert.ok(readMaps(f.pid).length > 0);
  });
}
