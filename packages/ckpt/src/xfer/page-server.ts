/**
 * The page server (`ckpt page-server`): listens on TCP (optionally TLS with client certificates), receives
 * pagemap/pages images over CRIU's page-server protocol and writes them with `ImageDir`, exactly as a local
 * pre-dump would write them.
 *
 * ```
 * listen --accept--> session (PageServerSession) --CLOSE + client EOF--> done       (default: one session,
 *   |                                                                                the listener closes at
 *   '-- --daemon: sessions one after another, each into DIR/<n>,                     the first accept, as CRIU)
 *        DIR/<n>/parent -> ../<last completed n> (the first: --prev-images-dir); a restarted daemon
 *        continues after the highest <n> already there
 * ```
 * A failed session (bad input, dropped connection, TLS refusal) logs one line and leaves its directory
 * aborted (an INCOMPLETE marker, no pagemap under a real name); a daemon keeps serving.
 *
 * @example
 * const server = await PageServer.listen({ dir: '/srv/ps', port: 0, log: console.error });
 * // ... a client runs its session against server.port ...
 * const [session] = await server.finished; session.ok; // true
 */
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { PageServerSession, type SessionCounts } from './page-server-session.js';
import { serverTlsOptions, type TlsFiles } from './tls.js';
import { WireError } from './wire-errors.js';

export interface PageServerOptions {
  /** The images directory (-D). */
  dir: string;
  /** Address to listen on (default 0.0.0.0). */
  address?: string;
  /** TCP port; 0 picks a free one (see `port` after listen). */
  port: number;
  /** Serve sessions one after another (each into DIR/<n>) instead of exactly one. */
  daemon?: boolean;
  /** Parent image set of the (first) session, relative to `dir` as CRIU's --prev-images-dir. */
  prevImagesDir?: string;
  /** Mutual TLS with these PEM contents. */
  tls?: TlsFiles;
  /** Answer the checksum extension's probe (default true). */
  checksums?: boolean;
  /** Where one-line messages go (default: nowhere). */
  log?: (line: string) => void;
}

export interface SessionReport {
  readonly index: number;
  readonly peer: string;
  readonly dir: string;
  readonly ok: boolean;
  readonly checksums: boolean;
  readonly error?: { code: string; message: string };
  readonly counts?: SessionCounts;
}

export class PageServer {
  readonly sessions: SessionReport[] = [];
  /** Resolves when the server stops: after its one session, or after `close()` in daemon mode. */
  readonly finished: Promise<SessionReport[]>;
  private resolveFinished!: (r: SessionReport[]) => void;
  private readonly queue: Socket[] = [];
  private serving = false;
  private listening = true;
  private accepted = 0;
  private counter = 0;
  private lastGood: number | undefined;
  private readonly log: (line: string) => void;

  private constructor(
    private readonly server: Server,
    private readonly opts: PageServerOptions,
    readonly address: string,
    readonly port: number,
  ) {
    this.log = opts.log ?? (() => {});
    this.finished = new Promise((r) => {
      this.resolveFinished = r;
    });
  }

  /** Start listening; resolves once the port is bound. */
  static async listen(opts: PageServerOptions): Promise<PageServer> {
    const server = opts.tls ? createTlsServer(serverTlsOptions(opts.tls)) : createServer();
    const host = opts.address ?? '0.0.0.0';
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) =>
        reject(
          new WireError(
            'CONNECT',
            `listen on ${host}:${opts.port}: ${(e as NodeJS.ErrnoException).code ?? e.message}`,
            { cause: e },
          ),
        ),
      );
      server.listen({ host, port: opts.port, backlog: 8 }, resolve);
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port;
    const ps = new PageServer(server, opts, host, port);
    // A restarted daemon continues the numbering instead of overwriting earlier sessions.
    if (opts.daemon) ps.counter = highestSession(opts.dir);
    ps.wire();
    return ps;
  }

  private wire(): void {
    const s = this.server;
    s.on('error', (e) => this.log(`page-server: listener: ${e.message}`));
    // The TCP accept: a one-session server stops listening right away, as CRIU does.
    s.on('connection', (sock: Socket) => {
      this.accepted++;
      if (!this.opts.daemon) this.stopListening();
      if (!this.opts.tls) this.enqueue(sock);
    });
    if (this.opts.tls) {
      s.on('secureConnection', (sock: TLSSocket) => this.enqueue(sock));
      s.on('tlsClientError', (e: Error, sock: TLSSocket) => {
        const index = ++this.counter;
        const peer = `${sock.remoteAddress}:${sock.remotePort}`;
        this.finish({
          index,
          peer,
          dir: '',
          ok: false,
          checksums: false,
          error: { code: 'CONNECT', message: `TLS handshake refused: ${e.message}` },
        });
      });
    }
  }

  private enqueue(sock: Socket): void {
    sock.pause();
    this.queue.push(sock);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.serving) return;
    this.serving = true;
    while (this.queue.length > 0) {
      const report = await this.serve(this.queue.shift()!);
      this.finish(report);
    }
    this.serving = false;
  }

  private finish(report: SessionReport): void {
    this.sessions.push(report);
    if (report.ok) {
      this.lastGood = report.index;
      this.log(
        `page-server: session ${report.index} from ${report.peer} done: ${report.counts?.pagesWritten ?? 0} pages, ${report.counts?.holePages ?? 0} hole pages into ${report.dir}`,
      );
    } else {
      this.log(
        `page-server: session ${report.index} from ${report.peer} failed: ${report.error?.code}: ${report.error?.message}`,
      );
    }
    if (!this.opts.daemon || !this.listening) {
      if (!this.serving || this.queue.length === 0) this.resolveFinished(this.sessions);
    }
  }

  /** Where session `index` writes, and its parent link. */
  private placement(index: number): { dir: string; parent: string | undefined } {
    const prev = this.opts.prevImagesDir;
    if (!this.opts.daemon) return { dir: this.opts.dir, parent: prev };
    const dir = join(this.opts.dir, String(index));
    if (this.lastGood !== undefined) return { dir, parent: `../${this.lastGood}` };
    if (prev === undefined) return { dir, parent: undefined };
    return { dir, parent: isAbsolute(prev) ? prev : join('..', prev) };
  }

  private serve(sock: Socket): Promise<SessionReport> {
    const index = ++this.counter;
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    const { dir, parent } = this.placement(index);
    sock.setNoDelay(true);
    return new Promise((resolve) => {
      let error: { code: string; message: string } | undefined;
      let session: PageServerSession | undefined;
      const failWith = (e: unknown): void => {
        if (error !== undefined) return;
        const code = (e as { code?: unknown }).code;
        error = {
          code: typeof code === 'string' ? code : 'IO',
          message: e instanceof Error ? e.message : String(e),
        };
        session?.fail(error.message);
        sock.destroy();
      };
      try {
        if (parent !== undefined && !existsSync(join(dir, parent)) && !existsSync(parent)) {
          throw new WireError('PROTOCOL', `parent image directory ${parent} (from ${dir}) does not exist`);
        }
        session = new PageServerSession({ dir, parent, checksums: this.opts.checksums }, (b) => {
          sock.write(b);
        });
      } catch (e) {
        failWith(e);
      }
      sock.on('data', (chunk: Buffer) => {
        if (error !== undefined || session === undefined) return;
        try {
          if (session.feed(chunk) === 'closed' && session.forceClosed) sock.end();
        } catch (e) {
          failWith(e);
        }
      });
      sock.on('end', () => {
        if (error !== undefined || session === undefined) return;
        try {
          session.end();
          sock.end();
        } catch (e) {
          failWith(e);
        }
      });
      sock.on('error', (e) =>
        failWith(
          new WireError('IO', `connection from ${sock.remoteAddress}:${sock.remotePort}: ${e.message}`, {
            cause: e,
          }),
        ),
      );
      sock.on('close', () => {
        if (error === undefined && session?.state !== 'closed') {
          failWith(new WireError('NOT_FLUSHED', 'connection closed before CLOSE: the data were not flushed'));
        }
        resolve({
          index,
          peer,
          dir,
          ok: error === undefined,
          checksums: session?.checksummed ?? false,
          ...(error ? { error } : {}),
          ...(session ? { counts: { ...session.counts } } : {}),
        });
      });
      sock.resume();
    });
  }

  private stopListening(): void {
    if (!this.listening) return;
    this.listening = false;
    this.server.close();
  }

  /** Number of TCP connections accepted so far. */
  get connections(): number {
    return this.accepted;
  }

  /** Stop accepting; a session in progress runs to its end. Resolves with `finished`. */
  async close(): Promise<SessionReport[]> {
    this.stopListening();
    if (!this.serving && this.queue.length === 0) this.resolveFinished(this.sessions);
    return this.finished;
  }
}

/** The highest DIR/<n> a previous daemon left (0 if none). */
function highestSession(dir: string): number {
  let max = 0;
  try {
    for (const name of readdirSync(dir)) if (/^\d+$/.test(name)) max = Math.max(max, Number(name));
  } catch {
    // no directory yet
  }
  return max;
}
