/**
 * The fault campaign: real targets, the real `ckpt pre-dump` and `ckpt dump --leave-running` (bin/ckpt.js in
 * a child Node process), and
 * SIGKILL/SIGINT/SIGTERM of ckpt at random moments of each phase. After each trial the target must be
 * unharmed: running (not crashed, not stopped, not traced), its code bytes those of its files, its own
 * memory check unchanged. Also counted: what a trial left in the target (userfaultfds, anonymous and
 * scratch mappings, only for runs that did not complete, i.e. left no complete image set: a complete first
 * pre-dump keeps its tracking userfaultfd by design), by SIGINT/SIGTERM (goal: nothing) and what is still there after the real
 * `ckpt track --stop -t PID` (run whenever something was left; goal: nothing), wrong images (a complete-marked set that differs from the memory of a target
 * that does not change: injectee only), unclear errors (stderr not empty nor one `ckpt: ` line, or a
 * stack trace).
 *
 * Aiming at phases without hooks inside ckpt: the campaign watches the target from outside (TracerPid of
 * /proc/PID/status, polled in a busy loop) and kills after a random delay drawn from a window measured
 * by one uninterrupted calibration run of the same target and scenario:
 * ```
 *  spawn ---------- traced (freeze + injection) ---------- untraced: read | write ------- exit
 *  attach:    trigger = traced,   delay U(0, 0.3 ms)
 *  injection: trigger = injecting, delay U(0, 1.5 ms)             first pre-dump, or splice mode
 *             (injecting: traced, and the target's fd count changed: its userfaultfd or pipes exist)
 *  freeze:    trigger = traced,   delay U(0, traced window)       --freeze (frozen for the whole copy)
 *  read:      trigger = untraced, delay U(0, rest / 2)            first pre-dump
 *  write:     trigger = untraced, delay U(rest / 2, rest)         first pre-dump
 *  collect:   trigger = spawn,    delay U(0, run)                 chained pre-dump (--prev-images-dir)
 *  dump:      trigger = traced,   delay U(0, traced window)       `ckpt dump --leave-running` (the whole
 *             state: injected calls, fds and sockets read from duplicates, unix queues peeked)
 * ```
 * Every draw comes from one seeded PRNG: a run is replayed by its seed.
 *
 * @example
 * const r = await runCampaign({ trials: 20, seed: 1, targets: ['injectee'] });
 * console.log(formatReport(r)); r.totals.harmed === 0;
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkChain } from '../../dump/index.js';
import { readMaps } from '../../proc/index.js';
import { freeze } from '../../ptrace/index.js';
import { kill as sysKill } from '../../sys/index.js';
import { CKPT_BIN } from '../cli.js';
import { rng } from '../rng.js';
import { codeDiffers, type Leftovers, leftovers, procState, tracerPid } from './probes.js';
import { startTarget, type Target, type TargetKind, unavailable } from './targets.js';

export type Phase = 'attach' | 'injection' | 'read' | 'collect' | 'freeze' | 'write' | 'dump';
export const PHASES: readonly Phase[] = ['attach', 'injection', 'read', 'collect', 'freeze', 'write', 'dump'];
type Scenario = 'first' | 'chained' | 'freeze' | 'splice' | 'dump';
type Trigger = 'spawn' | 'traced' | 'untraced' | 'injecting';
const SIGNALS = ['SIGKILL', 'SIGKILL', 'SIGINT', 'SIGTERM'] as const;

export interface CampaignOptions {
  readonly trials: number;
  readonly seed: number;
  readonly targets: readonly TargetKind[];
  /** Phases to draw from (default: all of PHASES). */
  readonly phases?: readonly Phase[];
  /** bin/ckpt.js to run (default: this package's). */
  readonly ckptBin?: string;
  /** A line per trial. */
  readonly log?: (line: string) => void;
}

export interface TrialResult {
  readonly n: number;
  readonly target: TargetKind;
  readonly phase: Phase;
  readonly signal: string;
  readonly delayMs: number;
  /** ckpt was still running when the signal was sent. */
  readonly hit: boolean;
  /** ckpt's exit: code, or the signal that ended it. */
  readonly exit: string;
  /** What harmed the target ('' when nothing). */
  readonly harm: string;
  readonly left: Leftovers;
  /** What was still left after `ckpt track --stop -t PID` (run only when something was left). */
  readonly leftAfterStop: Leftovers;
  readonly wrongImages: string;
  readonly unclear: string;
}

export interface PhaseRow {
  trials: number;
  hits: number;
  harmed: number;
  userfaultfdsLeft: number;
  anonLeft: number;
  scratchLeft: number;
  /** Trials ended by SIGINT/SIGTERM that left anything (goal: none, without `ckpt track --stop`). */
  leftByCatchable: number;
  /** Trials that left anything even after `ckpt track --stop`. */
  leftAfterStop: number;
  wrongImages: number;
  unclear: number;
}

export interface CampaignReport {
  readonly seed: number;
  readonly skipped: readonly string[];
  readonly trials: readonly TrialResult[];
  readonly rows: Readonly<Record<Phase, PhaseRow>>;
  readonly totals: PhaseRow;
}

interface Calibration {
  /** ms from spawn; -1 when the target was never seen traced. */
  readonly traced: number;
  readonly untraced: number;
  readonly exit: number;
}

const now = () => performance.now();
const any = (l: Leftovers) => l.anon > 0 || l.userfaultfds > 0 || l.scratch > 0;

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

function scenarioOf(phase: Phase, rand: () => number): Scenario {
  if (phase === 'collect') return 'chained';
  if (phase === 'freeze') return 'freeze';
  if (phase === 'dump') return 'dump';
  if (phase === 'injection') return rand() < 0.5 ? 'splice' : 'first';
  return 'first';
}

function ckptArgs(s: Scenario, pid: number, dir: string, prev?: string): string[] {
  if (s === 'dump') return ['dump', '-t', String(pid), '-D', dir, '--leave-running', '--no-progress'];
  const a = ['pre-dump', '-t', String(pid), '-D', dir, '--no-progress'];
  if (s === 'freeze') a.push('--freeze');
  if (s === 'splice') a.push('--pre-dump-mode', 'splice');
  if (prev) a.push('--prev-images-dir', prev);
  return a;
}

/** A running ckpt: its pid, its exit (awaited through the event loop), its stderr file. */
interface Run {
  readonly pid: number;
  readonly started: number;
  readonly done: Promise<string>;
  readonly stderrFile: string;
}

function launch(bin: string, args: string[], dir: string): Run {
  mkdirSync(dir, { recursive: true });
  const stderrFile = join(dir, '..', `${dir.split('/').pop()}.stderr`);
  const out = openSync('/dev/null', 'w');
  const err = openSync(stderrFile, 'w');
  const started = now();
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', out, err] });
  closeSync(out);
  closeSync(err);
  const done = new Promise<string>((res) => {
    child.on('exit', (code, sig) => res(sig ? sig : String(code)));
  });
  return { pid: child.pid!, started, done, stderrFile };
}

/** Busy-poll until `pred` holds or the ckpt run ended (zombie or gone); true if `pred` held. */
function busyUntil(run: Run, pred: () => boolean, timeoutMs: number): boolean {
  const end = now() + timeoutMs;
  for (let i = 0; now() < end; i++) {
    if (pred()) return true;
    if ((i & 15) === 0) {
      const st = procState(run.pid);
      if (st === '' || st === 'Z') return false;
    }
  }
  return false;
}

function busySleep(ms: number): void {
  const end = now() + ms;
  while (now() < end) {
    /* spin: a timer would be far coarser than the phases */
  }
}

async function calibrate(bin: string, t: Target, s: Scenario, root: string): Promise<Calibration> {
  const prev = s === 'chained' ? await firstDump(bin, t, join(root, 'cal-a')) : undefined;
  const run = launch(
    bin,
    ckptArgs(s, t.pid, join(root, 'cal-b'), prev ? '../cal-a' : undefined),
    join(root, 'cal-b'),
  );
  let traced = -1;
  let untraced = -1;
  for (;;) {
    const st = procState(run.pid);
    if (st === '' || st === 'Z') break;
    const tp = tracerPid(t.pid);
    if (traced < 0 && tp === run.pid) traced = now() - run.started;
    if (traced >= 0 && untraced < 0 && tp !== run.pid) untraced = now() - run.started;
  }
  const exit = now() - run.started;
  const status = await run.done;
  if (status !== '0')
    throw new Error(`calibration run (${s}) of ${t.kind} failed: ${readFileSync(run.stderrFile, 'utf8')}`);
  if (untraced < 0) untraced = traced < 0 ? -1 : exit;
  rmSync(join(root, 'cal-a'), { recursive: true, force: true });
  rmSync(join(root, 'cal-b'), { recursive: true, force: true });
  return { traced, untraced, exit };
}

/** An uninterrupted first pre-dump into `dir` (the parent of a chained trial). */
async function firstDump(bin: string, t: Target, dir: string): Promise<string> {
  const r = spawnSync(process.execPath, [bin, ...ckptArgs('first', t.pid, dir)], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`first pre-dump of ${t.kind} failed: ${r.stderr}`);
  return dir;
}

function aim(phase: Phase, c: Calibration, rand: () => number): { trigger: Trigger; delay: number } {
  const traced = Math.max(0.05, c.untraced - c.traced);
  const rest = Math.max(0.1, c.exit - c.untraced);
  switch (phase) {
    case 'attach':
      return { trigger: 'traced', delay: rand() * 0.3 };
    case 'injection':
      return { trigger: 'injecting', delay: rand() * 1.5 };
    case 'freeze':
    case 'dump':
      return { trigger: 'traced', delay: rand() * traced };
    case 'read':
      return { trigger: 'untraced', delay: (rand() * rest) / 2 };
    case 'write':
      return { trigger: 'untraced', delay: rest / 2 + (rand() * rest) / 2 };
    case 'collect':
      return { trigger: 'spawn', delay: rand() * c.exit };
  }
}

function unclearStderr(text: string): string {
  const t = text.trim();
  if (t === '') return '';
  const lines = t.split('\n');
  if (/^\s+at /m.test(t)) return `stack trace: ${lines[0]}`;
  if (lines.length > 1) return `${lines.length} lines: ${lines[0]}`;
  if (!lines[0]!.startsWith('ckpt: ')) return `not a ckpt: line: ${lines[0]}`;
  return '';
}

/** A complete-marked image set that differs from the memory of a target that does not change. */
function imagesWrong(t: Target, dir: string): string {
  if (t.kind !== 'injectee' || !existsSync(join(dir, 'inventory.img'))) return '';
  try {
    using _frozen = freeze(t.pid);
    const c = checkChain(t.pid, dir);
    if (c.mismatched > 0 || c.missing > 0) {
      const maps = readMaps(t.pid);
      const where = c.firstBad.map((a) => {
        const v = maps.find((m) => m.start <= a && a < m.end);
        return `0x${a.toString(16)} (${v ? `${v.path || 'anon'}+0x${(a - v.start).toString(16)}` : 'unmapped'})`;
      });
      return `${c.mismatched} pages differ${where.length ? ` at ${where.join(', ')}` : ''}, ${c.missing} missing`;
    }
  } catch (e) {
    return `check failed: ${(e as Error).message}`;
  }
  return '';
}

async function waitUntraced(pid: number): Promise<void> {
  for (let i = 0; i < 200 && tracerPid(pid) > 0; i++) await new Promise((r) => setTimeout(r, 10));
}

const emptyRow = (): PhaseRow => ({
  trials: 0,
  hits: 0,
  harmed: 0,
  userfaultfdsLeft: 0,
  anonLeft: 0,
  scratchLeft: 0,
  leftByCatchable: 0,
  leftAfterStop: 0,
  wrongImages: 0,
  unclear: 0,
});

/** Run the campaign; targets not available here are skipped (see `skipped`). */
export async function runCampaign(o: CampaignOptions): Promise<CampaignReport> {
  const bin = o.ckptBin ?? CKPT_BIN;
  const rand = rng(o.seed);
  const root = mkdtempSync(join(tmpdir(), 'ckpt-faults-'));
  const skipped: string[] = [];
  const kinds = o.targets.filter((k) => {
    const why = unavailable(k);
    if (why) skipped.push(`${k}: ${why}`);
    return !why;
  });
  const trials: TrialResult[] = [];
  const targets = new Map<TargetKind, { t: Target; sum: string; cal: Map<Scenario, Calibration> }>();
  const fresh = async (k: TargetKind) => {
    targets.get(k)?.t.stop();
    const t = await startTarget(k);
    const entry = { t, sum: await t.checksum(), cal: new Map<Scenario, Calibration>() };
    targets.set(k, entry);
    return entry;
  };
  const onSignal = (sig: NodeJS.Signals) => {
    for (const e of targets.values()) e.t.stop();
    rmSync(root, { recursive: true, force: true });
    process.kill(process.pid, sig);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (let n = 0; n < o.trials && kinds.length > 0; n++) {
      const kind = kinds[Math.floor(rand() * kinds.length)]!;
      const phases = o.phases ?? PHASES;
      const phase = phases[Math.floor(rand() * phases.length)]!;
      const signal = SIGNALS[Math.floor(rand() * SIGNALS.length)]!;
      const scenario = scenarioOf(phase, rand);
      const draw = rand();
      const e = targets.get(kind) ?? (await fresh(kind));
      let cal = e.cal.get(scenario);
      if (!cal) {
        cal = await calibrate(bin, e.t, scenario, root);
        e.cal.set(scenario, cal);
      }
      const { trigger, delay } = aim(phase, cal, () => draw);
      const dir = join(root, `t${n}`);
      const prev = scenario === 'chained' ? await firstDump(bin, e.t, join(root, `t${n}-parent`)) : undefined;
      const before = leftovers(e.t.pid);
      const run = launch(bin, ckptArgs(scenario, e.t.pid, dir, prev ? `../t${n}-parent` : undefined), dir);
      let fired = true;
      const fds0 = fdCount(e.t.pid);
      if (trigger === 'injecting') {
        fired = busyUntil(run, () => tracerPid(e.t.pid) === run.pid && fdCount(e.t.pid) !== fds0, 30_000);
      } else if (trigger === 'traced') fired = busyUntil(run, () => tracerPid(e.t.pid) === run.pid, 30_000);
      else if (trigger === 'untraced') {
        fired =
          busyUntil(run, () => tracerPid(e.t.pid) === run.pid, 30_000) &&
          busyUntil(run, () => tracerPid(e.t.pid) !== run.pid, 30_000);
      }
      if (fired) busySleep(delay);
      const st = procState(run.pid);
      const hit = st !== '' && st !== 'Z';
      if (hit) sysKill(run.pid, signal === 'SIGKILL' ? 9 : signal === 'SIGINT' ? 2 : 15);
      const exit = await Promise.race([
        run.done,
        new Promise<string>((r) => setTimeout(() => r('timeout'), 60_000)),
      ]);
      if (exit === 'timeout') sysKill(run.pid, 9);
      await waitUntraced(e.t.pid);
      const harms: string[] = [];
      const state = e.t.state();
      if (state === '' || state === 'Z' || state === 'X') harms.push('crashed');
      else if (state === 'T' || state === 't') harms.push(`stopped (${state})`);
      if (tracerPid(e.t.pid) > 0) harms.push('still traced');
      const self = e.t.selfReport();
      if (self) harms.push(self);
      let code = '';
      const none: Leftovers = { anon: 0, userfaultfds: 0, scratch: 0 };
      let left = none;
      let leftAfterStop = none;
      let wrong = '';
      if (harms.length === 0 || harms[0]!.startsWith('stopped')) {
        if (state === 'T') sysKill(e.t.pid, 18); // SIGCONT, so that the checks can run
        code = codeDiffers(e.t.pid);
        if (code) harms.push(`code bytes: ${code}`);
        wrong = imagesWrong(e.t, dir);
        const after = leftovers(e.t.pid);
        const since = (now: Leftovers): Leftovers => ({
          anon: Math.max(0, now.anon - before.anon),
          userfaultfds: Math.max(0, now.userfaultfds - before.userfaultfds),
          scratch: Math.max(0, now.scratch - before.scratch),
        });
        // a complete first pre-dump keeps its tracking userfaultfd by design, whatever its exit status
        // (a signal after the commit ends it without undoing the chain it started)
        if (exit !== '0' && !existsSync(join(dir, 'inventory.img'))) left = since(after);
        if (any(left)) {
          spawnSync(process.execPath, [bin, 'track', '--stop', '-t', String(e.t.pid)], { timeout: 60_000 });
          leftAfterStop = since(leftovers(e.t.pid));
        }
        try {
          const sum = await e.t.checksum();
          if (sum !== e.sum) harms.push(`memory check: ${sum} (was ${e.sum})`);
        } catch (err) {
          harms.push(`memory check failed: ${(err as Error).message.slice(0, 120)}`);
        }
      }
      const unclear = unclearStderr(readFileSync(run.stderrFile, 'utf8'));
      const r: TrialResult = {
        n,
        target: kind,
        phase,
        signal,
        delayMs: Math.round(delay * 1000) / 1000,
        hit,
        exit,
        harm: harms.join('; '),
        left,
        leftAfterStop,
        wrongImages: wrong,
        unclear,
      };
      trials.push(r);
      o.log?.(
        `#${n} ${kind} ${phase}(${scenario}) ${signal} +${r.delayMs}ms ${hit ? 'hit' : 'missed'} exit=${exit}` +
          `${r.harm ? ` HARM: ${r.harm}` : ''}${any(left) ? ` left=${JSON.stringify(left)}` : ''}` +
          `${any(leftAfterStop) ? ` LEFT AFTER track --stop=${JSON.stringify(leftAfterStop)}` : ''}` +
          `${wrong ? ` WRONG IMAGES: ${wrong}` : ''}${unclear ? ` UNCLEAR: ${unclear}` : ''}`,
      );
      if (wrong && process.env.CKPT_FAULTS_KEEP) {
        const kept = `${process.env.CKPT_FAULTS_KEEP}/t${n}`;
        spawnSync('cp', ['-a', dir, kept]);
        o.log?.(`#${n}: images kept in ${kept}`);
      }
      rmSync(dir, { recursive: true, force: true });
      rmSync(`${dir}.stderr`, { force: true });
      rmSync(join(root, `t${n}-parent`), { recursive: true, force: true });
      if (r.harm) await fresh(kind); // a harmed target is not reused
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    for (const e of targets.values()) e.t.stop();
    rmSync(root, { recursive: true, force: true });
  }
  const rows = Object.fromEntries(PHASES.map((p) => [p, emptyRow()])) as Record<Phase, PhaseRow>;
  const totals = emptyRow();
  for (const t of trials) {
    for (const row of [rows[t.phase], totals]) {
      row.trials++;
      if (t.hit) row.hits++;
      if (t.harm) row.harmed++;
      if (t.left.userfaultfds > 0) row.userfaultfdsLeft++;
      if (t.left.anon > 0) row.anonLeft++;
      if (t.left.scratch > 0) row.scratchLeft++;
      if (any(t.left) && t.signal !== 'SIGKILL') row.leftByCatchable++;
      if (any(t.leftAfterStop)) row.leftAfterStop++;
      if (t.wrongImages) row.wrongImages++;
      if (t.unclear) row.unclear++;
    }
  }
  return { seed: o.seed, skipped, trials, rows, totals };
}

/** The per-phase table (markdown) and the harmful trials. */
export function formatReport(r: CampaignReport): string {
  const head =
    '| phase | trials | ckpt hit | targets harmed | userfaultfd left | anon mappings left | scratch left | left by SIGINT/TERM | left after track --stop | wrong images | unclear errors |';
  const line = (name: string, x: PhaseRow) =>
    `| ${name} | ${x.trials} | ${x.hits} | ${x.harmed} | ${x.userfaultfdsLeft} | ${x.anonLeft} | ${x.scratchLeft} | ${x.leftByCatchable} | ${x.leftAfterStop} | ${x.wrongImages} | ${x.unclear} |`;
  const out = [`seed ${r.seed}`, head, '|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const p of PHASES) out.push(line(p, r.rows[p]));
  out.push(line('**all**', r.totals));
  for (const s of r.skipped) out.push(`skipped ${s}`);
  for (const t of r.trials) {
    const what = `#${t.n} ${t.target} ${t.phase} ${t.signal} +${t.delayMs} ms exit=${t.exit}`;
    if (t.harm) out.push(`harmed: ${what}: ${t.harm}`);
    if (t.wrongImages) out.push(`wrong images: ${what}: ${t.wrongImages}`);
    if (t.unclear) out.push(`unclear error: ${what}: ${t.unclear}`);
  }
  return out.join('\n');
}
