/**
 * One side of a migration's connection (frame.ts has the protocol): frames out with back-pressure, an
 * optional rate cap (`--bandwidth`) and compression with the negotiated codec; frames in, in order, for
 * whoever waits on `next()`, except the page session's replies (REPLY, REPLY_END), which go straight to
 * the page stream that asked (page-stream.ts).
 *
 * ```
 * connect()/over(socket) --send/sendJson (write callbacks: at most what the caller awaits is in flight)-->
 *                        <--next()/expect(type) (a queue; REPLY* to routeReplies' target)--
 * a socket error or close: every waiter, the page stream and every later call fail with one
 * MigrateError CONNECTION; an ERROR/ABORT frame from the peer makes expect() throw MigrateError PEER
 * close(): end our side; destroy(): drop it (safe to call twice, and after a failure)
 * ```
 *
 * @example
 * const ch = await Channel.connect({ address: '10.0.0.2', port: 27100 });
 * await ch.sendJson(FRAME.HELLO, { version: 1, codecs: ['none'] });
 * const welcome = await ch.expect(FRAME.WELCOME);
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { type Codec, clientTlsOptions, openCodec, type TlsFiles } from '../xfer/index.js';
import { MigrateError } from './errors.js';
import {
  decodeJson,
  encodeFrameHeader,
  FLAG_COMPRESSED,
  FRAME,
  type Frame,
  FrameParser,
  frameName,
} from './frame.js';

export interface ChannelStats {
  /** Bytes written to the connection (headers and payloads as sent: compressed). */
  bytesOut: number;
  /** Payload bytes before compression. */
  rawOut: number;
  /** Bytes read from the connection. */
  bytesIn: number;
}

export interface ConnectOptions {
  readonly address: string;
  readonly port: number;
  readonly tls?: TlsFiles;
  /** Give up connecting after this many ms (default 10 s). */
  readonly timeoutMs?: number;
}

/** Something that takes the page session's replies (the page stream). */
export interface ReplyTarget {
  reply(bytes: Buffer): void;
  replyEnd(): void;
  fail(e: Error): void;
}

export class Channel {
  readonly stats: ChannelStats = { bytesOut: 0, rawOut: 0, bytesIn: 0 };
  private readonly parser = new FrameParser();
  private readonly queue: Frame[] = [];
  private readonly waiters: { resolve: (f: Frame) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  private replies: ReplyTarget | undefined;
  private codec: Codec = openCodec('none');
  /** Bytes per ms the sender may use (0: no cap), and when the link is free again (performance.now()). */
  private rate = 0;
  private freeAt = 0;
  private ended = false;
  /** Resolves when the last frame asked for has started writing (frames never overtake each other). */
  private order: Promise<void> = Promise.resolve();
  /** Settles when the socket is closed (either side). */
  readonly closed: Promise<void>;

  private constructor(
    private readonly sock: Socket,
    /** The peer, for messages: "the destination ADDRESS:PORT", or the source's ADDRESS:PORT. */
    readonly peer: string,
  ) {
    sock.setNoDelay(true);
    sock.on('data', (b: Buffer) => this.onData(b));
    sock.on('error', (e: NodeJS.ErrnoException) =>
      this.fail(
        new MigrateError('CONNECTION', `connection to ${peer}: ${e.code ?? e.message}`, { cause: e }),
      ),
    );
    this.closed = new Promise((resolve) => {
      sock.on('close', () => {
        this.fail(new MigrateError('CONNECTION', `${peer} closed the connection`));
        resolve();
      });
    });
  }

  /** Connect to a destination (`ckpt receive`). Throws MigrateError CONNECTION. */
  static async connect(o: ConnectOptions): Promise<Channel> {
    const where = `the destination ${o.address}:${o.port}`;
    const timeout = o.timeoutMs ?? 10_000;
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = o.tls
        ? tlsConnect({ host: o.address, port: o.port, ...clientTlsOptions(o.tls) })
        : netConnect({ host: o.address, port: o.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new MigrateError('CONNECTION', `${where}: no connection after ${timeout} ms`));
      }, timeout);
      s.once(o.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new MigrateError('CONNECTION', `${where}: ${e.code ?? e.message}`, { cause: e }));
      });
    });
    return new Channel(sock, where);
  }

  /** A channel over an accepted socket (the destination's side). */
  static over(sock: Socket): Channel {
    return new Channel(sock, `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? '?'}`);
  }

  /** Compress PAGES payloads with `codec` from now on (after the HELLO/WELCOME exchange). */
  useCodec(codec: Codec): void {
    if (this.codec !== codec) this.codec.close();
    this.codec = codec;
  }

  get codecName(): string {
    return this.codec.name;
  }

  /** Cap the sending rate at `bytesPerSecond` (0: none): `--bandwidth`, and tests of non-convergence. */
  capRate(bytesPerSecond: number): void {
    this.rate = bytesPerSecond > 0 ? bytesPerSecond / 1000 : 0;
  }

  /** The error the channel failed with, if it did. */
  get error(): Error | undefined {
    return this.failure;
  }

  /**
   * Send one frame. `compress`: with the negotiated codec, kept only if it is smaller. Resolves when the
   * socket took the bytes (back-pressure); rejects with the channel's failure.
   */
  async send(type: number, payload: Uint8Array = EMPTY, compress = false): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.ended) throw new MigrateError('PROTOCOL', `${frameName(type)} after the channel was closed`);
    let body: Uint8Array = payload;
    let flags = 0;
    if (compress && this.codec.name !== 'none' && payload.length > 0) {
      const c = this.codec.compress(payload);
      if (c.length < payload.length) {
        body = Buffer.from(c); // a codec may hand out a view it reuses
        flags = FLAG_COMPRESSED;
      }
    }
    const header = encodeFrameHeader(type, flags, body.length, payload.length);
    this.stats.bytesOut += header.length + body.length;
    this.stats.rawOut += payload.length;
    // frames start in the order of the calls, each after its own wait for the rate cap
    const turn = this.order.then(() => this.throttle(header.length + body.length));
    this.order = turn;
    await turn;
    if (this.failure) throw this.failure;
    const s = this.sock;
    const written = new Promise<void>((resolve, reject) => {
      s.cork();
      s.write(header);
      if (body.length > 0) s.write(body, (e) => (e ? reject(this.failure ?? e) : resolve()));
      else s.write(EMPTY, (e) => (e ? reject(this.failure ?? e) : resolve()));
      s.uncork();
    });
    return written;
  }

  /** Send a control frame with a JSON body. */
  sendJson(type: number, body: object): Promise<void> {
    return this.send(type, Buffer.from(JSON.stringify(body)));
  }

  /** The next frame that is not a page-session reply. Rejects with the channel's failure. */
  next(): Promise<Frame> {
    const f = this.queue.shift();
    if (f) return Promise.resolve(f);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * The next frame, which must be of `type`: its JSON body. An ERROR or ABORT frame instead throws
   * MigrateError PEER with the peer's message; anything else MigrateError PROTOCOL.
   */
  async expect(type: number): Promise<Record<string, unknown>> {
    const f = await this.next();
    if (f.type === type) return f.payload.length > 0 ? decodeJson(f) : {};
    throw peerOrProtocol(f, `expected ${frameName(type)}`);
  }

  /** Where REPLY/REPLY_END frames go (the current page stream), or nowhere. */
  routeReplies(target: ReplyTarget | undefined): void {
    this.replies = target;
  }

  /** A payload as it was before compression. */
  decompress(f: Frame): Buffer {
    if (!(f.flags & FLAG_COMPRESSED)) return f.payload;
    return this.codec.decompress(f.payload, f.raw);
  }

  /** End our side once everything was written (the peer sees EOF). Safe to call twice. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.sock.end();
    void this.closed.then(() => this.codec.close()); // frames still being written keep it until then
  }

  /** Drop the connection now. Safe to call twice. */
  destroy(): void {
    this.ended = true;
    this.sock.destroy();
    void this.closed.then(() => this.codec.close());
  }

  private onData(b: Buffer): void {
    this.stats.bytesIn += b.length;
    let frames: Frame[];
    try {
      frames = this.parser.feed(b);
    } catch (e) {
      this.fail(e as Error);
      this.sock.destroy();
      return;
    }
    for (const f of frames) {
      if (f.type === FRAME.REPLY || f.type === FRAME.REPLY_END) {
        const r = this.replies;
        if (!r) {
          this.fail(new MigrateError('PROTOCOL', `${frameName(f.type)} with no page stream open`));
          this.sock.destroy();
          return;
        }
        if (f.type === FRAME.REPLY) r.reply(f.payload);
        else r.replyEnd();
        continue;
      }
      if ((f.type === FRAME.ERROR || f.type === FRAME.ABORT) && this.replies) {
        // the peer gave up while a page stream is open: its words are the failure (not the EOF after)
        this.fail(peerOrProtocol(f, 'a frame'));
        return;
      }
      const w = this.waiters.shift();
      if (w) w.resolve(f);
      else this.queue.push(f);
    }
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
    this.replies?.fail(e);
  }

  private async throttle(bytes: number): Promise<void> {
    if (this.rate <= 0) return;
    const now = performance.now();
    const start = Math.max(now, this.freeAt);
    this.freeAt = start + bytes / this.rate;
    if (start > now + 1) await new Promise((r) => setTimeout(r, start - now));
  }
}

const EMPTY = Buffer.alloc(0);

/** An ERROR/ABORT frame as MigrateError PEER (the peer's own words); any other as PROTOCOL. */
export function peerOrProtocol(f: Frame, what: string): MigrateError {
  if (f.type === FRAME.ERROR || f.type === FRAME.ABORT) {
    let msg = '';
    try {
      const b = decodeJson(f);
      msg = String(b.message ?? b.reason ?? '');
    } catch {
      msg = f.payload.toString().slice(0, 200);
    }
    return new MigrateError('PEER', msg || `the peer sent ${frameName(f.type)}`);
  }
  return new MigrateError('PROTOCOL', `${what}, got ${frameName(f.type)}`);
}
