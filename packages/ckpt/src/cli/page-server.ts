/**
 * `ckpt page-server` and the client side of `ckpt pre-dump --page-server`: flag parsing and validation
 * over xfer/'s PageServer and PageServerClient. CRIU's flags:
 *
 * ```
 * ckpt page-server -D DIR --port P [--address A] [--daemon] [--prev-images-dir ../N]
 *                  [--tls --tls-cacert F --tls-cert F --tls-key F] [--no-checksums]
 * ckpt pre-dump ... --page-server --address A --port P [--tls ...] [--checksums]
 * ```
 * Without --daemon the server serves exactly one session and returns (throwing if it failed); with
 * --daemon it serves sessions one after another, each into DIR/<n>, until the signal aborts.
 *
 * @example
 * await pageServerCommand({ imagesDir: '/srv/ps/1', port: '27000' }, { signal });
 * await preDump({ pid, imagesDir, target: pageServerTarget({ address: '10.0.0.2', port: '27000' }) });
 */
import { refusePseudoFs } from '../images/index.js';
import { cancelledBy } from '../sys/index.js';
import { PageServerClient } from '../xfer/page-client.js';
import { PageServer, type SessionReport } from '../xfer/page-server.js';
import type { PageServerTarget } from '../xfer/page-target.js';
import { loadTlsFiles, type TlsFiles } from '../xfer/tls.js';
import { WireError } from '../xfer/wire-errors.js';
import { UsageError } from './failure.js';

export interface TlsFlags {
  tls?: boolean;
  tlsCacert?: string;
  tlsCert?: string;
  tlsKey?: string;
}

export interface PageServerFlags extends TlsFlags {
  imagesDir?: string;
  address?: string;
  port?: string;
  daemon?: boolean;
  prevImagesDir?: string;
  /** commander's --no-checksums gives false. */
  checksums?: boolean;
}

export interface PageServerContext {
  readonly signal?: AbortSignal;
  /** Where the one-line messages go (default stderr). */
  readonly log?: (line: string) => void;
  /** Called once the port is bound (tests use it to learn port 0's choice). */
  readonly onListening?: (address: string, port: number) => void;
}

/** `--port` as a TCP port (0 = any free port). */
export function parsePort(s: string | undefined): number {
  if (s === undefined) throw new UsageError('missing --port');
  if (!/^\d+$/.test(s) || Number(s) > 65535) throw new UsageError(`bad --port ${s}`);
  return Number(s);
}

/** Read the TLS files when --tls is given; all three paths are required then. */
export function tlsFromFlags(f: TlsFlags): TlsFiles | undefined {
  const any = f.tlsCacert ?? f.tlsCert ?? f.tlsKey;
  if (!f.tls) {
    if (any !== undefined) throw new UsageError('--tls-cacert/--tls-cert/--tls-key need --tls');
    return undefined;
  }
  if (!f.tlsCacert || !f.tlsCert || !f.tlsKey) {
    throw new UsageError('--tls needs --tls-cacert, --tls-cert and --tls-key (mutual certificates)');
  }
  return loadTlsFiles({ cacert: f.tlsCacert, cert: f.tlsCert, key: f.tlsKey });
}

/** Run the page server; resolves with the session reports. A failed one-shot session throws. */
export async function pageServerCommand(
  f: PageServerFlags,
  ctx: PageServerContext = {},
): Promise<SessionReport[]> {
  if (!f.imagesDir) throw new UsageError('missing -D/--images-dir');
  refusePseudoFs(f.imagesDir, '-D');
  const port = parsePort(f.port);
  const log = ctx.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const server = await PageServer.listen({
    dir: f.imagesDir,
    address: f.address ?? '0.0.0.0',
    port,
    daemon: f.daemon,
    prevImagesDir: f.prevImagesDir,
    tls: tlsFromFlags(f),
    checksums: f.checksums !== false,
    log,
  });
  log(
    `page-server: listening on ${server.address}:${server.port}${f.daemon ? ' (daemon)' : ''}, images into ${f.imagesDir}`,
  );
  ctx.onListening?.(server.address, server.port);
  const onAbort = () => void server.close();
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const reports = await server.finished;
    if (!f.daemon) {
      const r = reports[0];
      if (r === undefined) throw cancelledBy(ctx.signal, 'page-server: stopped before any connection');
      if (!r.ok)
        throw new WireError((r.error?.code ?? 'IO') as WireError['code'], `page-server: ${r.error?.message}`);
    }
    return reports;
  } finally {
    ctx.signal?.removeEventListener('abort', onAbort);
  }
}

export interface PageServerSinkFlags extends TlsFlags {
  address?: string;
  port?: string;
  checksums?: boolean;
}

/**
 * Where `pre-dump --page-server --address A --port P [--tls ...]` sends pages: a PageTarget that the dump
 * opens itself (one session for the whole tree, closed after the last process). Throws UsageError.
 *
 * @example
 * await preDump({ pid, imagesDir, target: pageServerTarget({ address: '10.0.0.2', port: '27000' }) });
 */
export function pageServerTarget(
  f: PageServerSinkFlags,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): PageServerTarget {
  if (!f.address) throw new UsageError('--page-server needs --address');
  const port = parsePort(f.port);
  if (port === 0) throw new UsageError('--page-server needs a non-zero --port');
  return { kind: 'page-server', address: f.address, port, tls: tlsFromFlags(f), checksums: f.checksums, log };
}

/**
 * A connected PageSink for code that drives tasks itself (tests, benchmarks). By default the session ends
 * (CLOSE) with the first task's `end()`; with `keepOpen` several tasks share it and `close()` ends it.
 * A dump takes `pageServerTarget()` instead and opens its session itself.
 */
export async function pageServerSink(
  f: PageServerSinkFlags,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  opts: { keepOpen?: boolean } = {},
): Promise<PageServerClient> {
  const { kind: _k, ...t } = pageServerTarget(f, log);
  return PageServerClient.connect({ ...t, keepOpen: opts.keepOpen });
}
