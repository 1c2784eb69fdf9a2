/**
 * `ckpt demo [--size MIB] [--dir DIR] [--keep]`: the README's main job end to end, on a built-in
 * workload (demo/workload.c: MIB MiB of page-unique data, two threads rewriting random pages of it).
 *
 * ```
 * gcc workload.c; setsid workload MIB &            (a non-child: ptrace-able, owned by no one here)
 * iteration 1  DIR/run/1  full; tracking starts    (stopped only for two injected syscalls)
 * iteration 2  DIR/run/2  written pages + PE_PARENT holes        (not stopped)
 * iteration 3  DIR/run/3  written pages + PE_PARENT holes        (not stopped)
 * iteration 4  DIR/run/4  frozen: the chain's end; still frozen, every page resolved through the chain
 *                         is compared with the target's memory (dump/chain-check.ts)
 * kill the workload (also on any failure, Ctrl-C, or exit)
 * table, DIR/RUN.json -> DIR/report.html, DIR/ckpt.log.bin decoded (first and last lines)
 * ```
 * Progress bars only on a terminal (stderr); plain lines otherwise. The images (MIB MiB and more) are
 * removed at the end unless `--keep`; RUN.json, the report and the log stay. A chain check that fails
 * is an error (status 1) after everything is printed.
 *
 * @example
 * addDemoCommand(program, ctx); // registers `demo` on a commander program
 * await demoCommand({ size: '64' }, ctx);
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import {
  type ChainCheckResult,
  checkChain,
  type PreDumpResult,
  preDumpIterations,
  prefetchPages,
} from '../dump/index.js';
import { formatBytes, formatCount, formatMs, renderReport, validateRun } from '../report/index.js';
import { cancelledBy } from '../sys/index.js';
import { logExcerpt } from './demo-log-excerpt.js';
import { DemoRun } from './demo-run.js';
import { CommandError, UsageError } from './failure.js';
import { openLog, parseVerbosity } from './log.js';
import type { CommandContext } from './pre-dump-command.js';
import { ProgressBar } from './progress.js';
import { Workload } from './workload.js';

/** The flags of `ckpt demo`. */
export interface DemoFlags {
  /** Size of the workload, MiB (default 256). */
  size?: string;
  /** Older name of --size. */
  mib?: string;
  dir?: string;
  /** Keep the image directories (they are removed by default; RUN.json, report and log stay). */
  keep?: boolean;
  /** Log level of the run's binlog file (default 3, info). */
  v?: string | boolean;
  /** false: no progress bars even on a terminal. */
  progress?: boolean;
}

/** Pre-dumps in the chain: three while the workload runs, then the frozen end. */
export const DEMO_ITERATIONS = 4;
/** Pause between iterations, ms: the workload rewrites pages meanwhile. */
export const DEMO_INTERVAL_MS = 500;

/**
 * Register `ckpt demo` on `program`; `show` (cli/show.ts) lists the chain's last directory with --keep.
 *
 * @example
 * addDemoCommand(new Command('ckpt'), { env: process.env, signal });
 */
export function addDemoCommand(
  program: Command,
  ctx: CommandContext,
  show?: (dir: string) => Promise<void>,
): void {
  program
    .command('demo')
    .description(
      'start a built-in workload that keeps writing its memory, pre-dump it three times while it runs ' +
        'and once frozen, check the chain against the frozen memory, write a report, stop the workload',
    )
    .option('--size <mib>', 'size of the workload in MiB', '256')
    .addOption(new Option('--mib <mib>', 'older name of --size').hideHelp())
    .option('--dir <dir>', 'output directory (default: a new one under the temp directory)')
    .option('--keep', 'keep the image directories (DIR/run/1..4); removed by default')
    .option('-v, --verbosity [level]', 'log level of the run (as pre-dump -v; default 3)')
    .option('--no-progress', 'no progress bars (they are only shown on a terminal anyway)')
    .action(async (o: DemoFlags & { verbosity?: string | boolean }) => {
      await demoCommand({ ...o, size: o.mib ?? o.size, v: o.verbosity }, ctx, show);
    });
}

/** Run the demo (see the module comment). Throws on failure; the workload is dead by then. */
export async function demoCommand(
  f: DemoFlags,
  ctx: CommandContext,
  show?: (dir: string) => Promise<void>,
): Promise<void> {
  const sizeFlag = f.size ?? f.mib ?? '256';
  const mib = Number(sizeFlag);
  if (!/^\d+$/.test(sizeFlag) || mib < 1 || mib > 65536) {
    throw new UsageError(`bad --size ${sizeFlag} (MiB, 1 .. 65536)`);
  }
  const level = f.v === undefined ? 3 : parseVerbosity(f.v);
  const out = ctx.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const bars = f.progress !== false && process.stderr.isTTY === true;
  const dir = resolve(f.dir ?? mkdtempSync(join(tmpdir(), 'ckpt-demo-')));
  const runDir = join(dir, 'run');
  if (existsSync(runDir)) throw new UsageError(`${runDir} exists already: choose another --dir`);
  mkdirSync(dir, { recursive: true });
  const logPath = join(dir, 'ckpt.log.bin');

  out(
    `ckpt demo: a ${mib} MiB workload that keeps writing its memory; ${DEMO_ITERATIONS - 1} pre-dumps ` +
      'while it runs, then a frozen one; output in',
  );
  out(`  ${dir}`);
  const run = new DemoRun();
  let check: ChainCheckResult | undefined;
  let checkError: string | undefined;
  let checkMs = 0;
  {
    using w = await Workload.start(mib, ctx.signal);
    const onSignal = () => w.kill(false); // whatever happens next, the workload goes first
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const log = openLog(logPath, level, { pid: w.pid });
    using bar = new BarSlot(bars);
    try {
      out(
        `workload: pid ${w.pid}, ${formatBytes(w.len)} at 0x${w.base.toString(16)}, ` +
          '2 threads rewriting random pages (demo/workload.c)',
      );
      let k = 1;
      await preDumpIterations({
        pid: w.pid,
        imagesDir: runDir,
        iterations: DEMO_ITERATIONS,
        intervalMs: DEMO_INTERVAL_MS,
        trackMem: 'auto',
        freeze: true,
        logger: log,
        signal: ctx.signal,
        onProgress: (done, total) => {
          const label = `iteration ${k}/${DEMO_ITERATIONS}${k === DEMO_ITERATIONS ? ' (frozen)' : ''}`;
          bar.update(label, done, total);
        },
        afterCommit: (r) => {
          // the chain's end, committed; the target is still frozen
          bar.close();
          run.add(k, r);
          out(iterationLine(k, r));
          out("comparing every page of the chain with the target's memory while it is still frozen ...");
          const t = process.hrtime.bigint();
          try {
            check = checkChain(w.pid, r.imagesDir ?? join(runDir, String(k)), (done, total) => {
              bar.update('chain check', done, total);
            });
          } catch (e) {
            checkError = e instanceof Error ? e.message : String(e);
          }
          checkMs = Number(process.hrtime.bigint() - t) / 1e6;
          bar.close();
        },
        onIteration: (i, r) => {
          bar.close();
          if (run.iterations.at(-1)?.index !== i) {
            run.add(i, r);
            out(iterationLine(i, r));
          }
          k = i + 1;
          if (k === DEMO_ITERATIONS) {
            // the check in the frozen window reads these images: from the page cache, not the disk
            const dirs = run.iterations.map((it) => join(runDir, String(it.index)));
            const t = process.hrtime.bigint();
            const bytes = prefetchPages(dirs);
            const took = formatMs(Number(process.hrtime.bigint() - t) / 1e6);
            out(`read ${formatBytes(bytes)} of images into the page cache for the chain check in ${took}`);
          }
        },
      });
    } catch (e) {
      if (ctx.signal?.aborted) {
        throw cancelledBy(ctx.signal, `demo cancelled; the workload ${w.pid} is killed`);
      }
      throw e;
    } finally {
      bar.close();
      log.close();
      w.kill();
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
    out(`workload ${w.pid} killed`);
  }

  out('');
  for (const l of run.table()) out(`  ${l}`);
  out('');
  const last = run.iterations.at(-1)?.result;
  if (last?.tracking) out(`tracking: ${last.tracking.kind} (${last.tracking.reason})`);
  out(chainLine(check, checkError, checkMs));

  const runFile = join(dir, 'RUN.json');
  const report = join(dir, 'report.html');
  const doc = run.toRun(check, `ckpt demo: ${mib} MiB workload, ${DEMO_ITERATIONS} pre-dumps`);
  writeFileSync(runFile, `${JSON.stringify(doc, null, 2)}\n`);
  const html = renderReport(validateRun(doc));
  writeFileSync(`${report}.tmp`, html);
  renameSync(`${report}.tmp`, report);
  out(`report: ${report} (${formatBytes(Buffer.byteLength(html))}; from ckpt report ${runFile})`);

  const x = logExcerpt(logPath, 3, 3);
  const skipped = x.skippedBytes > 0 ? `, ${x.skippedBytes} bytes skipped` : '';
  out(`log: ${x.count} lines in ${logPath} (npx binlog decode ${logPath}${skipped}):`);
  for (const l of x.head) out(`  ${l}`);
  if (x.tail.length > 0) {
    out(`  ... (${x.count - x.head.length - x.tail.length} more)`);
    for (const l of x.tail) out(`  ${l}`);
  }

  if (f.keep) {
    const top = join(runDir, String(run.iterations.length));
    out(`images kept: ${runDir}/1 .. ${run.iterations.length} (ckpt show ${top}; ckpt verify ${top})`);
    if (show) await show(top);
  } else {
    rmSync(runDir, { recursive: true, force: true });
    out(`images removed (--keep keeps ${runDir})`);
  }
  if (checkError !== undefined || !check || check.mismatched + check.missing > 0) {
    throw new CommandError('CHAIN_MISMATCH', 'the chain does not match the frozen memory (see above)');
  }
}

/** At most one progress bar at a time (only on a terminal): opened by the first update of a stage. */
class BarSlot {
  private bar: ProgressBar | undefined;

  constructor(private readonly enabled: boolean) {}

  update(label: string, done: number, total: number): void {
    this.bar ??= ProgressBar.open(label, total, this.enabled);
    this.bar.update(done);
  }

  /** Erase the bar (safe to call twice); the next update opens a new one. */
  close(): void {
    this.bar?.close();
    this.bar = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function iterationLine(i: number, r: PreDumpResult): string {
  const mode = r.tracking?.incremental ? 'incremental' : 'full';
  const stopped = r.stoppedTime ?? r.frozenTime;
  const how = r.frozen
    ? `frozen for ${formatMs(stopped / 1000)}`
    : stopped > 0
      ? `target stopped ${formatMs(stopped / 1000)}`
      : 'target not stopped';
  return (
    `iteration ${i}/${DEMO_ITERATIONS}: ${mode}, ${formatCount(r.pagesWritten)} pages written, ` +
    `${formatCount(r.pagesSkippedParent ?? 0)} parent holes, ${formatMs(r.totalTime / 1000)}; ${how}`
  );
}

function chainLine(c: ChainCheckResult | undefined, error: string | undefined, ms: number): string {
  if (error !== undefined) return `chain check: failed: ${error}`;
  if (!c) return 'chain check: not done (the frozen iteration did not complete)';
  const bad = c.firstBad.map((a) => `0x${a.toString(16)}`).join(', ');
  return (
    `chain check: ${c.mismatched} mismatched pages of ${c.pages}` +
    (bad ? ` (first: ${bad})` : '') +
    `; ${c.missing} present pages missing; ${formatCount(c.fromParents)} pages came through parent holes;` +
    ` compared with the frozen target's memory in ${formatMs(ms)} (the target stayed frozen for it)`
  );
}
