/**
 * `ckpt pre-dump`: parse the flags, open the log, run dump/preDump with a progress bar, print the summary
 * (or JSON). CRIU's flags where CRIU has one.
 *
 * @example
 * await preDumpCommand({ tree: '1234', imagesDir: '/ckpt/pre1', v: '3' }, { env: process.env });
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type PreDumpResult, preDump } from '../dump/index.js';
import type { PagesMethod } from '../mem/index.js';
import { listThreads, readStatus } from '../proc/index.js';
import { NullSink, type PageSink } from '../xfer/index.js';
import { UsageError } from './failure.js';
import { type ClosableLogger, LOG_FILE_NAME, openLog, parseVerbosity } from './log.js';
import { pageServerSink } from './page-server.js';
import { ProgressBar } from './progress.js';
import { summaryJson, summaryLine } from './summary.js';

/** The flags of `ckpt pre-dump`, as commander parses them. */
export interface PreDumpFlags {
  tree?: string;
  imagesDir?: string;
  prevImagesDir?: string;
  bufferSize?: string;
  freeze?: boolean;
  json?: boolean;
  v?: string | boolean;
  logFile?: string;
  pagesMethod?: string;
  dryRun?: boolean;
  progress?: boolean;
  /** Send pagemap/pages to a page server at --address/--port (CRIU's --page-server). */
  pageServer?: boolean;
  address?: string;
  port?: string;
  tls?: boolean;
  tlsCacert?: string;
  tlsCert?: string;
  tlsKey?: string;
  checksums?: boolean;
}

/**
 * `4M`, `512K`, `1G`, `65536` -> bytes.
 *
 * @example
 * parseSize('4M'); // 4194304
 */
export function parseSize(s: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(s.trim());
  if (!m) throw new UsageError(`bad size: ${s} (e.g. 4M, 512K)`);
  const mult = { '': 1, K: 1024, M: 1 << 20, G: 1 << 30 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * mult;
}

/** What a command gets from main(): env, the cancellation signal, where lines go. */
export interface CommandContext {
  /** Environment, for the fault hook CKPT_FAULT=exit-target-after:N (tests only). */
  readonly env: NodeJS.ProcessEnv;
  readonly signal?: AbortSignal;
  readonly out?: (line: string) => void;
}

/** Run the command; returns the result (the caller prints nothing more). Throws on failure. */
export async function preDumpCommand(f: PreDumpFlags, ctx: CommandContext): Promise<PreDumpResult> {
  const pid = Number(f.tree);
  if (!f.tree || !/^\d+$/.test(f.tree) || pid <= 0)
    throw new UsageError(`bad or missing pid: -t ${f.tree ?? ''}`);
  if (!f.imagesDir && !f.dryRun) throw new UsageError('missing -D/--images-dir (or --dry-run)');
  if (f.dryRun && f.pageServer) throw new UsageError('--dry-run and --page-server exclude each other');
  if (!f.pageServer && (f.address !== undefined || f.port !== undefined)) {
    throw new UsageError('--address/--port need --page-server');
  }
  if (f.prevImagesDir)
    throw new UsageError('--prev-images-dir is not supported yet (pre-dumps are full for now)');
  const method = f.pagesMethod as PagesMethod | undefined;
  if (method !== undefined && method !== 'scan' && method !== 'pagemap') {
    throw new UsageError(`bad --pages-method ${f.pagesMethod} (scan or pagemap)`);
  }
  const level = parseVerbosity(f.v);
  const bufferSize = f.bufferSize ? parseSize(f.bufferSize) : undefined;
  if (f.imagesDir && existsSync(join(f.imagesDir, 'inventory.img'))) {
    throw Object.assign(new Error(`${f.imagesDir} already holds a complete image set`), { code: 'EEXIST' });
  }
  listThreads(pid); // fails early (ESRCH, EPERM) before anything is created
  let logPath = f.logFile;
  if (!logPath && f.imagesDir) {
    mkdirSync(f.imagesDir, { recursive: true });
    logPath = join(f.imagesDir, LOG_FILE_NAME);
  }
  const log: ClosableLogger | undefined = logPath ? openLog(logPath, level, { pid }) : undefined;
  const afterBuffer = faultHook(ctx.env, pid);
  let bar: ProgressBar | undefined;
  try {
    let sink: PageSink | undefined;
    if (f.dryRun) sink = new NullSink();
    else if (f.pageServer) sink = await pageServerSink(f);
    const result = await preDump({
      pid,
      imagesDir: f.dryRun ? undefined : f.imagesDir,
      sink,
      bufferSize,
      pagesMethod: method,
      freeze: f.freeze,
      logger: log,
      signal: ctx.signal,
      afterBuffer,
      onProgress: (done, total) => {
        if (!bar)
          bar = ProgressBar.open(
            'pre-dump',
            total,
            f.progress !== false && !f.json && process.stderr.isTTY === true,
          );
        bar.update(done);
      },
    });
    bar?.close();
    const out = ctx.out ?? ((l: string) => process.stdout.write(`${l}\n`));
    const to = f.pageServer ? `page server ${f.address}:${f.port}` : undefined;
    out(f.json ? summaryJson(result, readStatus(process.pid).hwm) : summaryLine(result, to));
    return result;
  } finally {
    bar?.close();
    log?.close();
  }
}

/**
 * Fault injection for tests: `CKPT_FAULT=exit-target-after:N` SIGKILLs the target after N buffers went
 * out, to force the "target exited mid-dump" path on a real process; `CKPT_FAULT=sigint-after:N` sends
 * ourselves SIGINT then (the cancellation path).
 */
function faultHook(env: NodeJS.ProcessEnv, pid: number): ((i: number) => void) | undefined {
  const m = /^(exit-target|sigint)-after:(\d+)$/.exec(env.CKPT_FAULT ?? '');
  if (!m) return undefined;
  const n = Number(m[2]);
  if (m[1] === 'sigint') {
    return (i) => {
      if (i + 1 === n) process.kill(process.pid, 'SIGINT');
    };
  }
  return (i) => {
    if (i + 1 !== n) return;
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 2000; // until its memory is gone (zombie or reaped)
    while (Date.now() < deadline) {
      try {
        if (readStatus(pid).state === 'Z') return;
      } catch {
        return;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
  };
}
