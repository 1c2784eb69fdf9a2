/**
 * The page-server client: a PageSink that sends pages to a page server (ours or CRIU's) instead of
 * writing image files. Only pagemap/pages cross the wire; the dump keeps inventory/stats locally, as CRIU.
 *
 * ```
 * connect() [TLS handshake] [checksum probe: PARENT(0xc5c5c5) -> i32 CKSM magic | 0]
 * begin(pid):  PARENT(pid) -> i32 parentHas     OPEN2(pid) -> u8 hasParent
 * addPages:    ADD_F(PE_PRESENT) + data [+ CHECKSUM(crc32)]     addHole: ADD_F(PE_PARENT)
 * flush():     resolves once everything written so far left our buffers (the reader may reuse its buffer)
 * end():       CLOSE -> i32 0, then we close and wait for the server's close   (unless keepOpen)
 * abort():     drop the connection without CLOSE: the server discards this session's images
 * ```
 * Back-pressure: `flush()` waits for the write callbacks, so at most one reader buffer is in flight.
 *
 * @example
 * const sink = await PageServerClient.connect({ address: '10.0.0.2', port: 12345 });
 * await sink.begin(pid); sink.addPages(0x400000, 1, page); await sink.flush(); await sink.end();
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { crc32 } from 'node:zlib';
import { PAGE_SIZE } from '../sys/constants.js';
import type { PageSink } from './sink.js';
import { clientTlsOptions, type TlsFiles } from './tls.js';
import {
  CHECKSUM_MAGIC,
  CHECKSUM_PROBE_ID,
  type DstKind,
  decodeHasParent,
  decodeI32Reply,
  encodeDstId,
  encodePsHeader,
  PE_WIRE,
  PS,
} from './wire.js';
import { WireError } from './wire-errors.js';

export interface PageClientOptions {
  address: string;
  port: number;
  /** How messages name the server (default `address:port`): e.g. a migration's peer. */
  label?: string;
  /** Mutual TLS with these PEM contents. */
  tls?: TlsFiles;
  /** Ask for per-chunk checksums (used only if the server answers the probe). */
  checksums?: boolean;
  /** Give up connecting after this many ms (default 10 s). */
  connectTimeoutMs?: number;
  /** Do not send CLOSE in end(): several tasks share the session; call close() after the last. */
  keepOpen?: boolean;
  /** One-line notices (e.g. "server does not do checksums"). */
  log?: (line: string) => void;
}

interface Pending {
  size: number;
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
}

/**
 * A stream with a write of its own for small pieces (a migration's PageStream): `writeGathered` takes the
 * parts in order, calls `done` as a write callback, or returns false (nothing taken: write as usual).
 */
export interface GatheringStream {
  writeGathered(parts: readonly Uint8Array[], done: (e?: Error) => void): boolean;
}

const isGathering = (s: object): s is GatheringStream =>
  typeof (s as Partial<GatheringStream>).writeGathered === 'function';

export class PageServerClient implements PageSink {
  bytesWritten = 0;
  /** has_parent of the last OPEN2: whether the server's directory has this task's pagemap in its parent. */
  hasParent = false;
  private readonly pending: Pending[] = [];
  private replyBuf: Buffer = Buffer.alloc(0);
  private failure: Error | undefined;
  private dst = 0;
  private closed = false;
  private checksums = false;
  /** Settles when the last page data written has left our buffers. */
  private lastWrite: Promise<void> = Promise.resolve();
  private readonly closedPromise: Promise<void>;
  /** The stream's gathering write, when it has one: page runs and holes skip the Writable machinery. */
  private readonly gathering: GatheringStream | undefined;

  private constructor(
    private readonly sock: Duplex,
    private readonly opts: PageClientOptions,
  ) {
    this.gathering = isGathering(sock) ? sock : undefined;
    if ('setNoDelay' in sock) (sock as Socket).setNoDelay(true);
    sock.on('data', (b: Buffer) => this.onReply(b));
    // the server drops a session it refuses (a bad range, a hole its parent lacks) without a reply:
    // only its log says why
    sock.on('error', (e: NodeJS.ErrnoException) =>
      this.broken(
        new WireError(
          'IO',
          `page server ${this.where} dropped the session (${e.code ?? e.message}; its log says why)`,
          { cause: e },
        ),
      ),
    );
    this.closedPromise = new Promise((resolve) => {
      sock.on('close', () => {
        this.broken(
          new WireError('IO', `page server ${this.where} closed the connection (its log says why)`),
        );
        resolve();
      });
    });
  }

  private get where(): string {
    return this.opts.label ?? `${this.opts.address}:${this.opts.port}`;
  }

  /** Connect (and negotiate TLS and checksums). */
  static async connect(opts: PageClientOptions): Promise<PageServerClient> {
    const timeout = opts.connectTimeoutMs ?? 10_000;
    const sock = await new Promise<Socket>((resolve, reject) => {
      const where = `${opts.address}:${opts.port}`;
      const s = opts.tls
        ? tlsConnect({ host: opts.address, port: opts.port, ...clientTlsOptions(opts.tls) })
        : netConnect({ host: opts.address, port: opts.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new WireError('CONNECT', `page server ${where}: no connection after ${timeout} ms`));
      }, timeout);
      s.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new WireError('CONNECT', `page server ${where}: ${e.code ?? e.message}`, { cause: e }));
      });
    });
    return PageServerClient.over(sock, opts);
  }

  /**
   * A client over a stream that is already connected (a migration's page stream, a socket): the same
   * protocol, the stream's 'data', 'error' and 'close' events, write callbacks for back-pressure.
   */
  static async over(sock: Duplex, opts: PageClientOptions): Promise<PageServerClient> {
    const c = new PageServerClient(sock, opts);
    if (opts.checksums) {
      c.checksums = (await c.askParent('pid', CHECKSUM_PROBE_ID)) === CHECKSUM_MAGIC;
      if (!c.checksums) opts.log?.(`page server ${c.where} does not do checksums: sending without them`);
    }
    return c;
  }

  /** Whether per-chunk checksums are on for this session. */
  get checksummed(): boolean {
    return this.checksums;
  }

  private broken(e: Error): void {
    if (this.failure === undefined && !this.closed) this.failure = e;
    const err = this.failure ?? e;
    for (const p of this.pending.splice(0)) p.reject(err);
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.closed) {
      throw new WireError(
        'PROTOCOL',
        `the session with ${this.where} is closed (end() sends CLOSE; for several tasks connect with keepOpen and call close() after the last)`,
      );
    }
  }

  private onReply(b: Buffer): void {
    this.replyBuf = this.replyBuf.length === 0 ? b : Buffer.concat([this.replyBuf, b]);
    while (this.pending.length > 0 && this.replyBuf.length >= this.pending[0]!.size) {
      const p = this.pending.shift()!;
      p.resolve(this.replyBuf.subarray(0, p.size));
      this.replyBuf = this.replyBuf.subarray(p.size);
    }
    if (this.pending.length === 0 && this.replyBuf.length > 0) {
      this.broken(
        new WireError('BAD_REPLY', `page server ${this.where} sent ${this.replyBuf.length} unexpected bytes`),
      );
      this.sock.destroy();
    }
  }

  private request(header: Buffer, replySize: number): Promise<Buffer> {
    this.check();
    const p = new Promise<Buffer>((resolve, reject) =>
      this.pending.push({ size: replySize, resolve, reject }),
    );
    this.sock.write(header);
    return p;
  }

  private async askParent(kind: DstKind, id: number): Promise<number> {
    const h = encodePsHeader({
      cmd: PS.IOV_PARENT,
      flags: 0,
      nrPages: 0,
      vaddr: 0,
      dstId: encodeDstId(kind, id),
    });
    return decodeI32Reply(await this.request(h, 4));
  }

  /** PARENT query: does the server's parent image set have this task's pagemap? */
  async parentHas(pid: number): Promise<boolean> {
    const v = await this.askParent('pid', pid);
    if (v !== 0 && v !== 1) throw new WireError('BAD_REPLY', `PARENT reply ${v}`);
    return v === 1;
  }

  /**
   * PARENT query then OPEN2 for task `pid` (or shmem segment `id`); sets `hasParent`. Both requests go
   * out at once (the server answers in order): one round trip, not two (a frozen window's first).
   */
  async begin(pid: number, kind: DstKind = 'pid'): Promise<void> {
    this.check(); // a closed session: this error, before any request
    const parent = kind === 'pid' ? this.parentHas(pid) : undefined;
    this.dst = encodeDstId(kind, pid);
    const h = encodePsHeader({ cmd: PS.IOV_OPEN2, flags: 0, nrPages: 0, vaddr: 0, dstId: this.dst });
    const open = this.request(h, 1);
    if (parent) {
      try {
        await parent;
      } catch (e) {
        open.catch(() => {}); // fails with the session: the PARENT error says why
        throw e;
      }
    }
    this.hasParent = decodeHasParent(await open);
  }

  /** ADD_F(PE_PRESENT) + the bytes (+ CHECKSUM). The bytes must stay untouched until flush() settles. */
  addPages(vaddr: number, nrPages: number, bytes: Uint8Array, flags: number = PE_WIRE.PRESENT): void {
    this.check();
    if (bytes.length !== nrPages * PAGE_SIZE) {
      throw new WireError('PROTOCOL', `${bytes.length} bytes given for ${nrPages} pages`);
    }
    const s = this.sock;
    this.bytesWritten += bytes.length;
    if (!this.checksums && this.gathering) {
      const header = encodePsHeader({ cmd: PS.IOV_ADD_F, flags, nrPages, vaddr, dstId: this.dst });
      let done: (e?: Error) => void = () => {};
      const written = new Promise<void>((resolve, reject) => {
        done = (e) => (e ? reject(this.failure ?? e) : resolve());
      });
      if (this.gathering.writeGathered([header, bytes], done)) {
        this.lastWrite = written;
        written.catch(() => {}); // surfaced by flush()/check()
        return;
      }
    }
    // Plain TCP: one writev for header + data. TLS would copy corked buffers into one before encrypting,
    // so there each write goes on its own (the header becomes one small record).
    const cork = this.opts.tls === undefined;
    if (cork) s.cork();
    s.write(encodePsHeader({ cmd: PS.IOV_ADD_F, flags, nrPages, vaddr, dstId: this.dst }));
    if (this.checksums) {
      s.write(bytes);
      bytes = encodePsHeader({ cmd: PS.IOV_CHECKSUM, flags: 0, nrPages, vaddr, dstId: crc32(bytes) });
    }
    this.lastWrite = new Promise((resolve, reject) => {
      s.write(bytes, (e) => (e ? reject(this.failure ?? e) : resolve()));
    });
    this.lastWrite.catch(() => {}); // surfaced by flush()/check(), not as an unhandled rejection
    if (cork) s.uncork();
  }

  /** ADD_F(PE_PARENT): the pages are unchanged since the parent image set. */
  addHole(vaddr: number, nrPages: number, flags: number = PE_WIRE.PARENT): void {
    this.check();
    const header = encodePsHeader({ cmd: PS.IOV_ADD_F, flags, nrPages, vaddr, dstId: this.dst });
    if (this.gathering?.writeGathered([header], () => {})) return;
    this.sock.write(header);
  }

  /** Resolves once every byte written so far was handed to the kernel (or fails with the connection). */
  flush(): Promise<void> {
    this.check();
    if (this.sock.writableLength === 0) return Promise.resolve();
    return this.lastWrite;
  }

  /** End of this task's pages: sends CLOSE and waits for the reply, unless `keepOpen`. */
  async end(): Promise<void> {
    if (!this.opts.keepOpen) await this.close();
  }

  /** CLOSE -> i32 0, then close our side and wait until the server closed too. */
  async close(): Promise<void> {
    if (this.closed) return;
    const reply = await this.requestClose();
    this.closed = true;
    this.checkClosed(reply);
    this.sock.end();
    await this.closedPromise;
  }

  /** Send CLOSE; its 4-byte reply. */
  private requestClose(): Promise<Buffer> {
    return this.request(encodePsHeader({ cmd: PS.IOV_CLOSE, flags: 0, nrPages: 0, vaddr: 0, dstId: 0 }), 4);
  }

  /** CLOSE's reply: 0, or the connection dropped and WireError BAD_REPLY thrown. */
  private checkClosed(reply: Buffer): void {
    const v = decodeI32Reply(reply);
    if (v !== 0) {
      this.sock.destroy();
      throw new WireError('BAD_REPLY', `page server ${this.where} failed to close the images (status ${v})`);
    }
  }

  /**
   * close() without waiting for the server: CLOSE and the end of our side handed to the stream now.
   * `sent` resolves once both left (whatever the caller sends on the same connection afterwards comes
   * after them: a migration's last files); `done` as close() would (the reply, then the server's close).
   * For a caller whose next steps go on meanwhile and learn of a failed close in order (a migration's
   * destination answers its files only after it closed the pages). Settles `done` only once awaited
   * or not: a failure there is not an unhandled rejection.
   *
   * @example
   * const c = client.closeSoon(); await c.sent; await sendFiles(); await c.done;
   */
  closeSoon(): { readonly sent: Promise<void>; readonly done: Promise<void> } {
    if (this.closed) return { sent: Promise.resolve(), done: Promise.resolve() };
    const reply = this.requestClose();
    this.closed = true;
    const sent = new Promise<void>((resolve, reject) => {
      this.sock.once('finish', resolve);
      this.sock.once('error', reject);
    });
    this.sock.end();
    const done = (async () => {
      this.checkClosed(await reply);
      await this.closedPromise;
    })();
    done.catch(() => {});
    sent.catch(() => {});
    return { sent, done };
  }

  /** Drop the connection without CLOSE: the server discards this session's images. Safe to call twice. */
  abort(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.failure ??= new WireError('IO', `aborted: ${reason}`);
    this.sock.destroy();
  }

  [Symbol.dispose](): void {
    this.abort('not closed');
  }
}
