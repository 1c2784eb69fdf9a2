/**
 * `ckpt pre-dump`: parse the flags, open the log, run dump/preDump (read mode, the default; with
 * --iterations dump/preDumpIterations) or dump/preDumpSplice (--pre-dump-mode splice) with a progress
 * bar, print the summary (or JSON). CRIU's flags where CRIU has one. With --page-server the pages go to a
 * page server (a PageTarget: each pre-dump opens one session for the whole tree) and -D keeps the rest.
 *
 * @example
 * await preDumpCommand({ tree: '1234', imagesDir: '/ckpt/pre1', v: '3' }, { env: process.env });
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { listTree, type PreDumpResult, preDump, preDumpIterations, preDumpSplice } from '../dump/index.js';
import type { PagesMethod, TrackerChoice } from '../mem/index.js';
import { listThreads, readStatus } from '../proc/index.js';
import type { PageTarget } from '../xfer/index.js';
import { CommandError, UsageError } from './failure.js';
import { type ClosableLogger, LOG_FILE_NAME, openLog, parseVerbosity } from './log.js';
import { pageServerTarget } from './page-server.js';
import { checkPreDumpTarget } from './preflight.js';
import { ProgressBar } from './progress.js';
import { summaryJson, summaryLine } from './summary.js';

/** The flags of `ckpt pre-dump`, as commander parses them. */
export interface PreDumpFlags {
  tree?: string;
  imagesDir?: string;
  prevImagesDir?: string;
  bufferSize?: string;
  freeze?: boolean;
  /** With --freeze: bytes of pages held in memory until the thaw, at most (dump/DEFAULT_HOLD_CAP). */
  holdCap?: string;
  /** With --freeze and a parent: pre-copy passes before the freeze, at most (dump/DumpPipeline.precopy). */
  preCopy?: string;
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
  /** auto | uffd-wp | soft-dirty | none (default auto). */
  trackMem?: string;
  /** Pre-dumps in this run: -D is then the base, iteration k goes to DIR/k. */
  iterations?: string;
  /** ms between iterations. */
  interval?: string;
  /** read (default: process_vm_readv, target running) | splice (CRIU's default: frozen, vmsplice). */
  preDumpMode?: string;
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
  const track = (f.trackMem ?? 'auto') as TrackerChoice;
  if (!['auto', 'uffd-wp', 'soft-dirty', 'none'].includes(track)) {
    throw new UsageError(`bad --track-mem ${f.trackMem} (auto, uffd-wp, soft-dirty or none)`);
  }
  const iterations = f.iterations === undefined ? 1 : Number(f.iterations);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 10_000) {
    throw new UsageError(`bad --iterations ${f.iterations} (1 .. 10000)`);
  }
  const interval = f.interval === undefined ? 1000 : Number(f.interval);
  if (!Number.isFinite(interval) || interval < 0) throw new UsageError(`bad --interval ${f.interval} (ms)`);
  if (iterations > 1 && f.dryRun)
    throw new UsageError('--iterations needs an images directory (no --dry-run)');
  if (f.prevImagesDir !== undefined && f.dryRun) {
    throw new UsageError('--prev-images-dir needs an images directory (no --dry-run)');
  }
  const mode = f.preDumpMode ?? 'read';
  if (mode !== 'read' && mode !== 'splice') {
    throw new UsageError(`bad --pre-dump-mode ${f.preDumpMode} (read or splice)`);
  }
  if (mode === 'splice' && (iterations > 1 || f.prevImagesDir !== undefined)) {
    throw new UsageError(
      '--pre-dump-mode splice dumps in full: no --iterations or --prev-images-dir (use read)',
    );
  }
  if (mode === 'splice' && f.trackMem !== undefined && f.trackMem !== 'none') {
    throw new UsageError('--pre-dump-mode splice does not track memory: no --track-mem (use read)');
  }
  const method = f.pagesMethod as PagesMethod | undefined;
  if (method !== undefined && method !== 'scan' && method !== 'pagemap') {
    throw new UsageError(`bad --pages-method ${f.pagesMethod} (scan or pagemap)`);
  }
  const level = parseVerbosity(f.v);
  const bufferSize = f.bufferSize ? parseSize(f.bufferSize) : undefined;
  const holdCap = f.holdCap !== undefined ? parseSize(f.holdCap) : undefined;
  if (holdCap !== undefined && mode === 'splice') {
    throw new UsageError('--hold-cap is for read mode (splice holds its copy in pipes)');
  }
  const preCopyPasses = f.preCopy !== undefined ? Number(f.preCopy) : undefined;
  if (
    preCopyPasses !== undefined &&
    !(Number.isInteger(preCopyPasses) && preCopyPasses >= 0 && preCopyPasses <= 100)
  ) {
    throw new UsageError(`bad --pre-copy ${f.preCopy} (0 .. 100 passes)`);
  }
  if (f.imagesDir && existsSync(join(f.imagesDir, 'inventory.img'))) {
    throw new CommandError('EEXIST', `${f.imagesDir} already holds a complete image set`);
  }
  listThreads(pid); // fails early (ESRCH, EPERM) before anything is created
  checkPreDumpTarget(pid, { imagesDir: f.imagesDir, logFile: f.logFile });
  let logPath = f.logFile;
  if (!logPath && f.imagesDir) {
    mkdirSync(f.imagesDir, { recursive: true });
    logPath = join(f.imagesDir, LOG_FILE_NAME);
  }
  const log: ClosableLogger | undefined = logPath ? openLog(logPath, level, { pid }) : undefined;
  const afterBuffer = faultHook(ctx.env, pid);
  let bar: ProgressBar | undefined;
  try {
    // every pre-dump (each iteration) opens its own session there and closes it after the last process
    let target: PageTarget | undefined;
    if (f.dryRun) target = { kind: 'discard' };
    else if (f.pageServer) target = pageServerTarget(f);
    const out = ctx.out ?? ((l: string) => process.stdout.write(`${l}\n`));
    const to = f.pageServer ? `page server ${f.address}:${f.port}` : undefined;
    const print = (r: PreDumpResult) => {
      bar?.close();
      bar = undefined;
      if (f.json) return out(summaryJson(r, readStatus(process.pid).hwm));
      out(summaryLine(r, to));
      if (r.splice) out(spliceLine(r, r.splice));
      // the tracking line once a chain is involved (a plain first pre-dump keeps its one summary line;
      // --json and the log always say which tracker)
      const t = trackingLine(r);
      if (t && (f.prevImagesDir !== undefined || iterations > 1 || f.trackMem !== undefined)) out(t);
    };
    const common = {
      pid,
      target,
      bufferSize,
      holdCap,
      preCopyPasses,
      pagesMethod: method,
      freeze: f.freeze,
      prevImagesDir: f.prevImagesDir,
      // a dry run keeps nothing to chain: it tracks only if asked
      trackMem: f.dryRun && f.trackMem === undefined ? undefined : track,
      logger: log,
      signal: ctx.signal,
      afterBuffer,
      onProgress: (done: number, total: number) => {
        if (!bar)
          bar = ProgressBar.open(
            'pre-dump',
            total,
            f.progress !== false && !f.json && process.stderr.isTTY === true,
          );
        bar.update(done);
      },
    };
    if (mode === 'splice') {
      const tree = listTree(pid);
      if (tree.length > 1) {
        log?.warn('--pre-dump-mode splice: %d descendants of %d not dumped', tree.length - 1, pid);
        process.stderr.write(
          `note: --pre-dump-mode splice dumps ${pid} only, not its ${tree.length - 1} descendants\n`,
        );
      }
      const {
        prevImagesDir: _p,
        trackMem: _t,
        bufferSize: _b,
        freeze: _f,
        holdCap: _h,
        preCopyPasses: _pc,
        ...splice
      } = common;
      const result = await preDumpSplice({ ...splice, imagesDir: f.dryRun ? undefined : f.imagesDir });
      print(result);
      return result;
    }
    if (iterations > 1) {
      const all = await preDumpIterations({
        ...common,
        imagesDir: f.imagesDir!,
        iterations,
        intervalMs: interval,
        trackMem: track,
        onIteration: (_k, r) => print(r),
      });
      return all[all.length - 1]!;
    }
    const result = await preDump({ ...common, imagesDir: f.dryRun ? undefined : f.imagesDir });
    print(result);
    return result;
  } finally {
    bar?.close();
    log?.close();
  }
}

/** The splice line of the summary: the pipes, and how long the target was frozen for them. */
function spliceLine(r: PreDumpResult, s: NonNullable<PreDumpResult['splice']>): string {
  return (
    `splice: ${s.pipes} pipes of ${s.pipeSize >> 10} KiB (peak ${(s.peakPipeBytes / 2 ** 20).toFixed(1)} MiB pinned), ` +
    `${s.vmspliceCalls} vmsplice calls in ${s.injectedSyscalls} injected syscalls; target frozen ${(r.frozenTime / 1000).toFixed(1)} ms`
  );
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

/**
 * The tracking line of the summary: which tracker and why, full or incremental, pages written and left to
 * the parent, and how long the target was stopped.
 *
 * @example
 * trackingLine(result); // 'tracking: uffd-wp (async userfaultfd write-protect): incremental; ...'
 */
export function trackingLine(r: PreDumpResult): string | undefined {
  const t = r.tracking;
  if (!t) return undefined;
  const mode = t.incremental > 0 && t.full > 0 ? 'mixed' : t.incremental > 0 ? 'incremental' : 'full';
  const parts = [
    `tracking: ${t.kind} (${t.reason}): ${mode}`,
    `${r.pagesSkippedParent ?? 0} pages left to the parent`,
    `target stopped ${((r.stoppedTime ?? 0) / 1000).toFixed(1)} ms`,
  ];
  for (const f of t.fallbacks) parts.push(`full dump: ${f}`);
  return parts.join('; ');
}
