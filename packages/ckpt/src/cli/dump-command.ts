/**
 * `ckpt dump`: the final checkpoint of a process tree (dump/full/finalDump), CRIU's flags and meanings:
 * by default the tree is killed once the image set is complete; `--leave-running` thaws it. With
 * `--prev-images-dir` the pagemaps chain on the pre-dumps (unchanged pages are PE_PARENT holes) and the
 * pre-dumps' tracking ends inside the dump (its userfaultfds closed in the frozen targets).
 *
 * ```
 * ckpt dump -t PID -D DIR [--prev-images-dir ../N] [--leave-running] [--shell-job] [--tcp-established]
 *           [--page-server --address A --port P] [--json] [-v0..-v4] [--log-file F]
 * ```
 *
 * @example
 * await dumpCommand({ tree: '1234', imagesDir: '/ckpt/3', prevImagesDir: '../2' }, { env: process.env });
 */

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type FinalDumpResult, finalDump } from '../dump/full/index.js';
import type { TrackerChoice } from '../mem/index.js';
import { listThreads, readStatus } from '../proc/index.js';
import { CommandError, UsageError } from './failure.js';
import { openLog, parseVerbosity } from './log.js';
import { type PageServerSinkFlags, pageServerTarget } from './page-server.js';
import type { CommandContext } from './pre-dump-command.js';
import { checkPreDumpTarget } from './preflight.js';
import { ProgressBar } from './progress.js';
import { formatBytes } from './summary.js';

/** The flags of `ckpt dump`, as commander parses them. */
export interface DumpFlags extends PageServerSinkFlags {
  /** false: --no-progress. */
  progress?: boolean;
  tree?: string;
  imagesDir?: string;
  prevImagesDir?: string;
  leaveRunning?: boolean;
  shellJob?: boolean;
  tcpEstablished?: boolean;
  trackMem?: string;
  /** Send pagemap/pages to a page server at --address/--port (CRIU's --page-server). */
  pageServer?: boolean;
  json?: boolean;
  v?: string | boolean;
  logFile?: string;
}

/** The log file in DIR when --log-file is not given. */
export const DUMP_LOG_FILE_NAME = 'dump.log.bin';

/**
 * The one-line summary of a dump.
 *
 * @example
 * dumpSummaryLine(r); // 'dump of 1234 (7 threads): 1.0 GiB in 262144 pages, 12 as parent holes -> /ckpt/3; frozen 41.2 ms; killed'
 */
export function dumpSummaryLine(r: FinalDumpResult, to?: string): string {
  const threads = r.states.reduce((n, s) => n + s.threads.length, 0);
  const who = `${r.pid}${r.states.length > 1 ? ` and ${r.states.length - 1} descendants` : ''}`;
  const holes = r.pagesSkippedParent ? `, ${r.pagesSkippedParent} left to the parent` : '';
  return (
    `dump of ${who} (${threads} threads): ${formatBytes(r.bytesWritten)} in ${r.pagesWritten} pages${holes} ` +
    `-> ${to ?? r.imagesDir}; frozen ${(r.frozenTime / 1000).toFixed(1)} ms; ` +
    `${r.killed ? 'killed' : 'left running'}`
  );
}

/** Run `ckpt dump`; prints the summary (or JSON). Throws on failure. */
export async function dumpCommand(f: DumpFlags, ctx: CommandContext): Promise<FinalDumpResult> {
  const pid = Number(f.tree);
  if (!f.tree || !/^\d+$/.test(f.tree) || pid <= 0)
    throw new UsageError(`bad or missing pid: -t ${f.tree ?? ''}`);
  if (!f.imagesDir) throw new UsageError('missing -D/--images-dir');
  if (!f.pageServer && (f.address !== undefined || f.port !== undefined)) {
    throw new UsageError('--address/--port need --page-server');
  }
  const track = (f.trackMem ?? 'auto') as TrackerChoice;
  if (!['auto', 'uffd-wp', 'soft-dirty', 'none'].includes(track)) {
    throw new UsageError(`bad --track-mem ${f.trackMem} (auto, uffd-wp, soft-dirty or none)`);
  }
  const level = parseVerbosity(f.v);
  if (existsSync(join(f.imagesDir, 'inventory.img'))) {
    throw new CommandError('EEXIST', `${f.imagesDir} already holds a complete image set`);
  }
  listThreads(pid); // fails early (ESRCH, EPERM) before anything is created
  checkPreDumpTarget(pid, { imagesDir: f.imagesDir, logFile: f.logFile });
  mkdirSync(f.imagesDir, { recursive: true });
  const log = openLog(f.logFile ?? join(f.imagesDir, DUMP_LOG_FILE_NAME), level, { pid });
  let bar: ProgressBar | undefined;
  try {
    const target = f.pageServer ? pageServerTarget(f) : undefined;
    const r = await finalDump({
      pid,
      imagesDir: f.imagesDir,
      prevImagesDir: f.prevImagesDir,
      target,
      leaveRunning: f.leaveRunning === true,
      shellJob: f.shellJob === true,
      tcpEstablished: f.tcpEstablished === true,
      trackMem: track,
      logger: log,
      signal: ctx.signal,
      onProgress: (done: number, total: number) => {
        bar ??= ProgressBar.open(
          'dump',
          total,
          f.progress !== false && !f.json && process.stderr.isTTY === true,
        );
        bar.update(done);
      },
    });
    bar?.close();
    bar = undefined;
    const out = ctx.out ?? ((l: string) => process.stdout.write(`${l}\n`));
    if (f.json) {
      const { states: _s, ...rest } = r;
      out(
        JSON.stringify({
          ...rest,
          threads: r.states.map((s) => s.threads.length),
          ckptPeakRss: readStatus(process.pid).hwm,
        }),
      );
    } else {
      out(dumpSummaryLine(r, f.pageServer ? `page server ${f.address}:${f.port}` : undefined));
    }
    return r;
  } finally {
    bar?.close();
    log.close();
  }
}
