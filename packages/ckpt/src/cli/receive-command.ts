/**
 * `ckpt receive -D DIR --port P [--address A] [--tls ...] [-d] [--json] [--no-prebuild]
 * [--prebuild-fill writev|pread] [-v0..-v4] [--log-file F]`: the destination of `ckpt migrate`
 * (migrate/receiveMigration): accepts one connection, receives the chain into DIR/1, DIR/2, ..., builds
 * the root process from each set while the source runs (unless --no-prebuild), restores the final set
 * and reports the tree running to the source.
 *
 * ```
 * without -d: ckpt is the tree's parent (a child subreaper, as `ckpt restore`): after the migration it
 *             waits for the root to exit and exits with its status
 * with -d:    exits once the migration is complete; the tree runs on, re-parented
 * a failure, or SIGINT/SIGTERM before the migration completes: nothing of this run is left (the
 *             restored tree killed, DIR/<n> removed), one line, non-zero
 * ```
 *
 * @example
 * await main(['receive', '-D', '/srv/mig', '--port', '27100']);
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import type { Command } from 'commander';
import { Channel, MigrateError, type ReceiveResult, receiveMigration } from '../migrate/index.js';
import { cancelledBy, prctl } from '../sys/index.js';
import { serverTlsOptions, type TlsFiles } from '../xfer/index.js';
import { UsageError } from './failure.js';
import { openLog, parseVerbosity } from './log.js';
import { parsePort, type TlsFlags, tlsFromFlags } from './page-server.js';
import type { CommandContext } from './pre-dump-command.js';
import { PR_SET_CHILD_SUBREAPER, waitExit } from './restore-command.js';

export interface ReceiveFlags extends TlsFlags {
  imagesDir?: string;
  port?: string;
  address?: string;
  restoreDetached?: boolean;
  json?: boolean;
  verbosity?: string | boolean;
  logFile?: string;
  /** false with --no-prebuild. */
  prebuild?: boolean;
  prebuildFill?: string;
}

export interface ReceiveContext extends CommandContext {
  /** Called once the port is bound (tests learn port 0's choice). */
  readonly onListening?: (port: number) => void;
}

/** Accept one connection on address:port (TLS with mutual certificates when given). */
async function acceptOne(
  address: string,
  port: number,
  tls: TlsFiles | undefined,
  signal: AbortSignal | undefined,
  onListening: (port: number) => void,
  onRefused: (line: string) => void,
): Promise<Socket> {
  const server = tls ? createTlsServer(serverTlsOptions(tls)) : createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new MigrateError('CONNECTION', `listen on ${address}:${port}: ${e.code ?? e.message}`)),
      );
      server.listen({ host: address, port, backlog: 1 }, resolve);
    });
    const a = server.address();
    onListening(typeof a === 'object' && a !== null ? a.port : port);
    return await new Promise<Socket>((resolve, reject) => {
      const onAbort = () => reject(cancelledBy(signal, 'receive: stopped before any connection'));
      signal?.addEventListener('abort', onAbort, { once: true });
      // a peer failing the TLS handshake (no certificate we trust) is refused; we go on waiting
      server.on('tlsClientError', (e: NodeJS.ErrnoException, s: Socket) =>
        onRefused(`refused ${s.remoteAddress ?? '?'}: ${e.code ?? e.message}`),
      );
      server.once(tls ? 'secureConnection' : 'connection', (s: Socket) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(s);
      });
    });
  } finally {
    server.close(); // one migration per run: no second peer is accepted
  }
}

/** Run `ckpt receive`; returns the result and, without -d, the tree's exit status. */
export async function receiveCommand(
  f: ReceiveFlags,
  ctx: ReceiveContext,
): Promise<{ result: ReceiveResult; status?: number }> {
  if (!f.imagesDir) throw new UsageError('missing -D/--images-dir');
  const port = parsePort(f.port);
  const fill = f.prebuildFill ?? 'writev';
  if (fill !== 'writev' && fill !== 'pread') throw new UsageError(`--prebuild-fill ${fill}: writev or pread`);
  const tls = tlsFromFlags(f);
  const level = parseVerbosity(f.verbosity);
  const out = ctx.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const err = (l: string) => process.stderr.write(`${l}\n`);
  mkdirSync(f.imagesDir, { recursive: true }); // the log goes there; the sets are removed on failure
  const log = openLog(f.logFile ?? join(f.imagesDir, 'receive.log.bin'), level, { cmd: 'receive' });
  const keep = () => {}; // SIGINT/SIGTERM stay a cancellation (main's abort), as in `ckpt restore`
  process.on('SIGINT', keep);
  process.on('SIGTERM', keep);
  try {
    if (!f.restoreDetached) prctl(PR_SET_CHILD_SUBREAPER, 1);
    const address = f.address ?? '0.0.0.0';
    const sock = await acceptOne(
      address,
      port,
      tls,
      ctx.signal,
      (p) => {
        err(`receive: listening on ${address}:${p}, images into ${f.imagesDir}`);
        ctx.onListening?.(p);
      },
      (l) => err(`receive: ${l}`),
    );
    const result = await receiveMigration({
      dir: f.imagesDir,
      channel: Channel.over(sock),
      signal: ctx.signal,
      prebuild: f.prebuild !== false,
      pageFill: fill,
      log: (l) => {
        log.info('%s', l);
        if (level >= 3) err(`receive: ${l}`);
      },
    });
    const r = result.restored;
    if (f.json)
      out(
        JSON.stringify({
          ...result,
          restored: { pid: r.pid, pids: r.pids, millis: r.millis, prebuilt: r.prebuilt },
        }),
      );
    else
      out(
        `received ${result.sets.length} image sets (codec ${result.codec}, ${(result.bytesIn / 2 ** 20).toFixed(1)} MiB); ` +
          `process ${r.pid} runs (restored in ${r.millis.toFixed(1)} ms) from ${result.imagesDir}`,
      );
    if (f.restoreDetached) return { result };
    const status = await waitExit(r.pid, ctx.signal);
    if (status !== undefined) log.info('process %d exited with status %d', r.pid, status);
    return { result, status };
  } finally {
    process.removeListener('SIGINT', keep);
    process.removeListener('SIGTERM', keep);
    log.close();
  }
}

/** Register `ckpt receive` on the program. */
export function addReceiveCommand(
  p: Command,
  ctx: CommandContext,
  onVerbosity: (level: number) => void,
): void {
  p.command('receive')
    .description(
      'the destination of `ckpt migrate`: receive the image chain over one connection, restore the tree, ' +
        'report it running (then wait for it, as `ckpt restore`, unless -d)',
    )
    .requiredOption('-D, --images-dir <dir>', 'directory for the received image sets (DIR/1, DIR/2, ...)')
    .requiredOption('--port <port>', 'TCP port to listen on (0: any free port)')
    .option('--address <addr>', 'address to listen on', '0.0.0.0')
    .option('-d, --restore-detached', 'exit once the migration is complete (the tree is re-parented)')
    .option('--tls', 'TLS with mutual certificates')
    .option('--tls-cacert <file>', 'CA certificate (with --tls)')
    .option('--tls-cert <file>', 'our certificate (with --tls)')
    .option('--tls-key <file>', 'our private key (with --tls)')
    .option('--json', 'print the result as JSON on stdout')
    .option(
      '-v, --verbosity [level]',
      'log level as CRIU: 0 none, 1 errors, 2 warnings (default), 3 info, 4 debug',
    )
    .option('--log-file <file>', 'binary log file (default DIR/receive.log.bin)')
    .option('--no-prebuild', 'restore only after the final set (no process built while the source runs)')
    .option('--prebuild-fill <how>', 'pages into the pre-built process: writev or pread', 'writev')
    .action(async (o: ReceiveFlags) => {
      onVerbosity(parseVerbosity(o.verbosity));
      const { status } = await receiveCommand(o, ctx);
      if (status !== undefined) process.exitCode = status;
    });
}
