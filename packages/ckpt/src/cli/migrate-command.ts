/**
 * `ckpt migrate -t PID --to HOST:PORT [-D WORK] [--max-downtime MS] [--max-iterations N] [--pre-copy N] [--bandwidth RATE]
 * [--compress none|lz4|zstd] [--on-no-convergence finish|give-up] [--shell-job] [--tcp-established] [--tls ...] [--json]
 * [-v0..-v4] [--log-file F] [--no-progress]`: live migration to a `ckpt receive` (migrate/migrate).
 *
 * ```
 * on a terminal: a progress bar per copy and one line per iteration (pages, bytes on the wire, dirty
 *                rate, bandwidth, projected downtime, the rule's decision); then the summary line
 * --json:        one JSON object per iteration ({"iteration": ...}), then the result ({"migrated": ...})
 * -D WORK:       the source's own image sets and log stay there; default a temporary directory, removed
 * ```
 *
 * @example
 * await main(['migrate', '-t', '1234', '--to', '10.0.0.2:27100', '--compress', 'lz4']);
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { type IterationReport, type MigrateResult, migrate } from '../migrate/index.js';
import { listThreads, readState } from '../proc/index.js';
import type { CodecName } from '../xfer/index.js';
import { UsageError } from './failure.js';
import { openLog, parseVerbosity } from './log.js';
import { parsePort, type TlsFlags, tlsFromFlags } from './page-server.js';
import { type CommandContext, parseSize } from './pre-dump-command.js';
import { ProgressBar } from './progress.js';
import { formatBytes } from './summary.js';

export interface MigrateFlags extends TlsFlags {
  tree?: string;
  to?: string;
  imagesDir?: string;
  maxDowntime?: string;
  maxIterations?: string;
  preCopy?: string;
  bandwidth?: string;
  compress?: string;
  onNoConvergence?: string;
  shellJob?: boolean;
  tcpEstablished?: boolean;
  json?: boolean;
  verbosity?: string | boolean;
  logFile?: string;
  /** false: --no-progress. */
  progress?: boolean;
}

/** `HOST:PORT` (IPv6 as `[::1]:27100`). */
export function parseHostPort(s: string | undefined): { address: string; port: number } {
  if (!s) throw new UsageError('missing --to HOST:PORT');
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new UsageError(`bad --to ${s} (HOST:PORT)`);
  const port = parsePort(m[2]);
  if (port === 0) throw new UsageError('--to needs a non-zero port');
  return { address: m[1]!, port };
}

function positive(name: string, s: string | undefined, dflt: number): number {
  if (s === undefined) return dflt;
  if (!/^\d+$/.test(s) || Number(s) <= 0) throw new UsageError(`bad ${name} ${s} (a positive integer)`);
  return Number(s);
}

const rate = (bytesPerSec: number) => `${formatBytes(bytesPerSec)}/s`;

/** One line per iteration, for a terminal. */
export function iterationLine(r: IterationReport): string {
  if (r.final)
    return (
      `final dump: ${r.pagesWritten} pages, ${formatBytes(r.bytesSent)} on the wire, ` +
      `frozen ${(r.frozenMs ?? 0).toFixed(1)} ms until its images were sent`
    );
  // ETA of the next iteration: what is written while this one was sent, at the measured bandwidth
  const eta =
    r.bandwidth > 0 && r.dirtyRate > 0
      ? `, next ~${((r.dirtyRate * r.ms) / r.bandwidth / 1000).toFixed(2)} s`
      : '';
  return (
    `iteration ${r.n}: ${r.pagesWritten} pages (${formatBytes(r.pageBytes)}, ${formatBytes(r.bytesSent)} on the wire) ` +
    `in ${(r.ms / 1000).toFixed(2)} s; dirty ${rate(r.dirtyRate)}, link ${rate(r.bandwidth)}, ` +
    `projected downtime ${Number.isFinite(r.projectedMs) ? `${r.projectedMs.toFixed(1)} ms` : 'unbounded'}${eta}: ${r.decision}`
  );
}

/** The one-line summary. */
export function migrateSummaryLine(r: MigrateResult, to: string): string {
  const iters = r.iterations.length - 1;
  return (
    `migrated ${r.pid} to ${to} (pid ${r.restoredPid} there): ${iters} iteration${iters === 1 ? '' : 's'} (${r.reason}) + final, ` +
    `${formatBytes(r.bytesSent)} on the wire for ${formatBytes(r.pageBytes)} of pages (codec ${r.codec}); ` +
    `downtime ${r.downtimeMs.toFixed(1)} ms as the source saw it (frozen ${r.frozenMs.toFixed(1)} ms, ` +
    `hand-over ${r.handoverMs.toFixed(1)} ms with the restore's ${r.restoreMs.toFixed(1)} ms); total ${(r.totalMs / 1000).toFixed(1)} s`
  );
}

/** Run `ckpt migrate`. Throws on failure (the tree keeps running). */
export async function migrateCommand(f: MigrateFlags, ctx: CommandContext): Promise<MigrateResult> {
  const pid = Number(f.tree);
  if (!f.tree || !/^\d+$/.test(f.tree) || pid <= 0)
    throw new UsageError(`bad or missing pid: -t ${f.tree ?? ''}`);
  const to = parseHostPort(f.to);
  const compress = (f.compress ?? 'none') as CodecName;
  if (!['none', 'lz4', 'zstd'].includes(compress))
    throw new UsageError(`bad --compress ${f.compress} (none, lz4 or zstd)`);
  const onNo = f.onNoConvergence ?? 'finish';
  if (onNo !== 'finish' && onNo !== 'give-up')
    throw new UsageError(`bad --on-no-convergence ${onNo} (finish or give-up)`);
  const maxDowntimeMs = positive('--max-downtime', f.maxDowntime, 100);
  const maxIterations = positive('--max-iterations', f.maxIterations, 10);
  const preCopy = f.preCopy !== undefined ? Number(f.preCopy) : 0;
  if (!(Number.isInteger(preCopy) && preCopy >= 0 && preCopy <= 100))
    throw new UsageError(`bad --pre-copy ${f.preCopy} (0 .. 100 passes)`);
  const bandwidth = f.bandwidth !== undefined ? parseSize(f.bandwidth) : undefined;
  if (bandwidth === 0) throw new UsageError('--bandwidth must be above 0');
  const tls = tlsFromFlags(f);
  const level = parseVerbosity(f.verbosity);
  listThreads(pid); // no such pid, no permission: one line before anything connects
  const temp = f.imagesDir === undefined;
  const work = f.imagesDir ?? mkdtempSync(join(tmpdir(), 'ckpt-migrate-'));
  mkdirSync(work, { recursive: true });
  const log = openLog(f.logFile ?? join(work, 'migrate.log.bin'), level, { pid });
  const out = ctx.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const tty = f.progress !== false && !f.json && process.stderr.isTTY === true;
  let bar: ProgressBar | undefined;
  try {
    const r = await migrate({
      pid,
      to: { ...to, tls },
      workDir: work,
      maxDowntimeMs,
      maxIterations,
      preCopyPasses: preCopy,
      bandwidth,
      compress,
      onNoConvergence: onNo,
      shellJob: f.shellJob === true,
      tcpEstablished: f.tcpEstablished === true,
      logger: log,
      signal: ctx.signal,
      onProgress: (done, total) => {
        bar ??= ProgressBar.open('migrate', total, tty);
        bar.update(done);
      },
      onIteration: (it) => {
        bar?.close();
        bar = undefined;
        if (f.json) out(JSON.stringify({ iteration: it }));
        else if (tty || level >= 3) process.stderr.write(`${iterationLine(it)}\n`);
      },
    });
    if (f.json) out(JSON.stringify({ migrated: r }));
    else out(migrateSummaryLine(r, f.to!));
    return r;
  } catch (e) {
    // the one line says where the process is: here, running (thawed, untracked), as before the migration
    if (e instanceof Error && isRunning(pid)) e.message += `; process ${pid} keeps running here`;
    throw e;
  } finally {
    bar?.close();
    log.close();
    if (temp) rmSync(work, { recursive: true, force: true });
  }
}

/** Whether `pid` exists and is not stopped (a failed migration thaws it). */
function isRunning(pid: number): boolean {
  const st = readState(pid); // undefined: gone (migrated, or exited)
  return st !== undefined && !'TtZXx'.includes(st);
}

/** Register `ckpt migrate` on the program. */
export function addMigrateCommand(
  p: Command,
  ctx: CommandContext,
  onVerbosity: (level: number) => void,
): void {
  p.command('migrate')
    .description(
      'live migration to a `ckpt receive`: tracked pre-dumps over one connection while the tree runs, ' +
        'until the projected downtime fits; then the final dump, the restore there, and the tree here is ' +
        'killed only once it runs there (on any failure it keeps running here)',
    )
    .requiredOption('-t, --tree <pid>', 'process to migrate, with its descendants')
    .requiredOption('--to <host:port>', 'the destination (`ckpt receive --port P` there)')
    .option(
      '-D, --images-dir <dir>',
      "the source's own image sets and log (default: a temporary directory, removed)",
    )
    .option('--max-downtime <ms>', 'stop iterating once the projected downtime fits this (default 100)')
    .option('--max-iterations <n>', 'pre-dump iterations at most (default 10)')
    .option(
      '--pre-copy <passes>',
      "the final dump's pre-copy passes before its freeze (as ckpt dump's; what they copy is still sent while frozen), at most (default 0)",
    )
    .option('--bandwidth <rate>', 'cap the sending rate, bytes per second (e.g. 100M)')
    .addOption(
      new Option(
        '--compress <codec>',
        'compress pages on the wire when the destination has the codec',
      ).choices(['none', 'lz4', 'zstd']),
    )
    .addOption(
      new Option(
        '--on-no-convergence <what>',
        'when the target dirties faster than the link carries, or at --max-iterations: finish anyway (default) or give up (the tree keeps running here)',
      ).choices(['finish', 'give-up']),
    )
    .option('--shell-job', "the tree was started from a shell: its terminal is the restorer's (as ckpt dump)")
    .option(
      '--tcp-established',
      'established TCP connections go along (as ckpt dump; the address must move to the destination too)',
    )
    .option('--tls', 'TLS with mutual certificates to the destination')
    .option('--tls-cacert <file>', 'CA certificate (with --tls)')
    .option('--tls-cert <file>', 'our certificate (with --tls)')
    .option('--tls-key <file>', 'our private key (with --tls)')
    .option('--json', 'one JSON object per iteration, then the result, on stdout')
    .option(
      '-v, --verbosity [level]',
      'log level as CRIU: 0 none, 1 errors, 2 warnings (default), 3 info, 4 debug',
    )
    .option('--log-file <file>', 'binary log file (default WORK/migrate.log.bin)')
    .option('--no-progress', 'no progress output (it is only shown on a terminal anyway)')
    .action(async (o: MigrateFlags) => {
      onVerbosity(parseVerbosity(o.verbosity));
      await migrateCommand(o, ctx);
    });
}
