/**
 * `ckpt restore -D DIR [-d|--restore-detached] [--shell-job] [--json] [-v0..-v4] [--log-file F]
 * [--page-fill writev|pread]`: bring back the process of a full dump (restore/restoreProcess), with its pid.
 * --shell-job (CRIU's): the dumped terminal is ckpt's own (its stdin), the job joins ckpt's session.
 *
 * ```
 * without -d: ckpt becomes a child subreaper (the restored process is its child), restores, prints the
 *             summary (or --json), waits for the process to exit and exits with its status
 *             (128 + n when a signal n killed it); SIGINT/SIGTERM stop the wait, the process runs on
 * with -d:    restores, prints, exits 0; the process runs on, re-parented (as criu restore -d)
 * SIGINT/SIGTERM during the restore: what was built is killed, one line, 128 + n
 * ```
 * The log (binlog) goes to DIR/restore.log.bin unless --log-file says otherwise.
 *
 * @example
 * await main(['restore', '-D', '/ckpt/final', '-d']);
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { type RestoreResult, restoreProcess } from '../restore/index.js';
import { prctl, WAIT, WStatus, waitpid } from '../sys/index.js';
import { UsageError } from './failure.js';
import { openLog, parseVerbosity } from './log.js';
import type { CommandContext } from './pre-dump-command.js';

export const PR_SET_CHILD_SUBREAPER = 36;

export interface RestoreFlags {
  imagesDir?: string;
  restoreDetached?: boolean;
  json?: boolean;
  verbosity?: string | boolean;
  logFile?: string;
  pageFill?: string;
  shellJob?: boolean;
}

/** The exit status of a wait status: the code, or 128 + the signal that killed it. */
export function exitStatus(status: number): number {
  const sig = status & 0x7f;
  return sig === 0 ? (status >> 8) & 0xff : 128 + sig;
}

/** Wait (polling, so that signals reach ckpt) for child `pid` to exit; undefined when cancelled. */
export async function waitExit(pid: number, signal?: AbortSignal): Promise<number | undefined> {
  for (;;) {
    if (signal?.aborted) return undefined;
    const w = waitpid(pid, WAIT.WNOHANG);
    if (w.pid === pid && !WStatus.stopped(w.status)) return exitStatus(w.status);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Fault injection for tests: `CKPT_FAULT=restore-sigterm-at:STEP` sends ourselves SIGTERM when the restore
 * reaches phase STEP ('cloned', 'files', 'children', 'process PID'): the cancellation path mid-restore.
 */
function faultHook(env: NodeJS.ProcessEnv): ((step: string) => void) | undefined {
  const m = /^restore-sigterm-at:(.+)$/.exec(env.CKPT_FAULT ?? '');
  if (!m) return undefined;
  return (step) => {
    if (step === m[1]) process.kill(process.pid, 'SIGTERM');
  };
}

/** Run `ckpt restore`; returns the restore's result and, without -d, the process's exit status. */
export async function restoreCommand(
  f: RestoreFlags,
  ctx: CommandContext,
): Promise<{ result: RestoreResult; status?: number }> {
  if (!f.imagesDir) throw new UsageError('missing -D/--images-dir');
  if (f.pageFill !== undefined && f.pageFill !== 'writev' && f.pageFill !== 'pread')
    throw new UsageError(`bad --page-fill ${f.pageFill} (writev or pread)`);
  const level = parseVerbosity(f.verbosity);
  const out = ctx.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const log = openLog(f.logFile ?? join(f.imagesDir, 'restore.log.bin'), level, { cmd: 'restore' });
  // binlog re-raises SIGINT/SIGTERM when its flush handler is the only listener left (main's is `once`):
  // a listener of ours keeps the signal a cancellation (main's abort) instead of a death mid-restore
  const keep = () => {};
  process.on('SIGINT', keep);
  process.on('SIGTERM', keep);
  try {
    if (!f.restoreDetached) prctl(PR_SET_CHILD_SUBREAPER, 1);
    const result = await restoreProcess({
      imagesDir: f.imagesDir,
      signal: ctx.signal,
      onStep: faultHook(ctx.env),
      pageFill: f.pageFill === 'pread' ? 'pread' : 'writev',
      shellJob: f.shellJob === true,
      log: (lvl, message) => (lvl === 'info' ? log.info('%s', message) : log.debug('%s', message)),
    });
    if (f.json) out(JSON.stringify(result));
    else if (level >= 3)
      out(`restored process ${result.pid}: ${result.memory.pages} pages, ${result.millis.toFixed(1)} ms`);
    if (f.restoreDetached) return { result };
    const status = await waitExit(result.pid, ctx.signal);
    if (status !== undefined) log.info('process %d exited with status %d', result.pid, status);
    return { result, status };
  } finally {
    process.removeListener('SIGINT', keep);
    process.removeListener('SIGTERM', keep);
    log.close();
  }
}

/** Register `ckpt restore` on the program. */
export function addRestoreCommand(
  p: Command,
  ctx: CommandContext,
  onVerbosity: (level: number) => void,
): void {
  p.command('restore')
    .description(
      "bring back the process of a full dump (ckpt's or CRIU's images) with its pid, as criu restore",
    )
    .requiredOption('-D, --images-dir <dir>', 'image directory of a full dump')
    .option('-d, --restore-detached', 'exit once the process runs (it is re-parented); default: wait for it')
    .option(
      '--shell-job',
      "a shell job (dumped with --shell-job): its terminal is ckpt's, it joins ckpt's session",
    )
    .option('--json', 'print the result as JSON on stdout')
    .option(
      '-v, --verbosity [level]',
      'log level as CRIU: 0 none, 1 errors, 2 warnings (default), 3 info, 4 debug',
    )
    .option('--log-file <file>', 'binary log file (default DIR/restore.log.bin)')
    .option(
      '--page-fill <how>',
      'how pages get in: writev (process_vm_writev from ckpt, default) or pread (injected pread64 of the pages files)',
    )
    .action(async (o: RestoreFlags) => {
      onVerbosity(parseVerbosity(o.verbosity));
      const { status } = await restoreCommand(o, ctx);
      if (status !== undefined) process.exitCode = status;
    });
}
