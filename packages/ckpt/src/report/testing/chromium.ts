/**
 * Headless Chromium for the report's browser test: one bounded run per call, in a fresh profile, with
 * everything that talks to the network switched off. Chromium starts in a process group of its own; when
 * the run ends, or its time is up, the whole group is killed, and any process still naming the run's
 * profile directory is reported so the test can fail on it.
 *
 * @example
 * const r = await runChromium(['--dump-dom', 'file:///tmp/x/report.html'], { timeoutMs: 60_000 });
 * r.stdout; // the serialised DOM
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian puts it (CI installs the same package). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Why the browser test cannot run here, or undefined when it can.
 *
 * @example
 * test('renders', { skip: chromiumMissing() ?? false }, async () => { ... });
 */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed (apt-get install chromium)`;
}

/** The outcome of one run. */
export interface ChromiumRun {
  stdout: string;
  stderr: string;
  /** Exit status, or null when a signal ended it. */
  status: number | null;
  timedOut: boolean;
  /** Pids still alive after the group, and then any process naming the run's profile, were killed. */
  leftovers: number[];
}

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-extensions',
  '--disable-default-apps',
  '--mute-audio',
];

function pidsNaming(text: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(text)) out.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // the group is already empty
  }
}

/**
 * Run Chromium with the given extra arguments (e.g. `--screenshot=...`, `--dump-dom`, a URL), in a fresh
 * temporary profile that is removed afterwards.
 *
 * @example
 * await runChromium([`--screenshot=${png}`, '--window-size=1280,2000', url], { timeoutMs: 60_000 });
 */
export async function runChromium(
  args: readonly string[],
  opts: { timeoutMs: number },
): Promise<ChromiumRun> {
  const profile = mkdtempSync(join(tmpdir(), 'ckpt-report-chromium-'));
  try {
    const child = spawn(CHROMIUM, [...FLAGS, `--user-data-dir=${profile}`, ...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'disabled:' },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) killGroup(child.pid);
    }, opts.timeoutMs);
    const status = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve(code));
    }).finally(() => clearTimeout(timer));
    if (child.pid !== undefined) killGroup(child.pid);
    // Helpers that left the group (none should) are found by the profile path they were started with.
    let leftovers = pidsNaming(profile);
    for (let i = 0; i < 20 && leftovers.length > 0; i++) {
      for (const pid of leftovers) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await new Promise((r) => setTimeout(r, 50));
      leftovers = pidsNaming(profile);
    }
    return {
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
      status,
      timedOut,
      leftovers,
    };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
