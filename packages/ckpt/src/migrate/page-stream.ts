/**
 * The source's page stream of one image set: a Duplex that xfer/'s PageServerClient drives as it would a
 * socket to a page server. What the client writes (CRIU's page-server protocol) leaves as PAGES frames
 * (compressed with the negotiated codec), its end as PAGES_END; the destination's session replies come
 * back as REPLY frames (pushed as the stream's data) and REPLY_END (the stream's end).
 *
 * ```
 * PageServerClient --write/cork--> PageStream._writev --PAGES--> Channel --> destination session
 *                  <--'data'------ push(reply)        <--REPLY--
 * client.close(): CLOSE -> reply, end() --PAGES_END-->  <--REPLY_END-- push(null) -> 'close'
 * ```
 * Each write is copied into its frame, and its callback fires at once while less than IN_FLIGHT bytes are
 * on their way (else when the socket took enough of them): the client's flush() lets the reader go on
 * reading while the link carries the previous buffers, with memory bounded by IN_FLIGHT.
 *
 * @example
 * const sink = await PageServerClient.over(new PageStream(channel), { address: '', port: 0, label: 'the destination', keepOpen: true });
 */
import { Duplex } from 'node:stream';
import type { Channel, ReplyTarget } from './channel.js';
import { FRAME } from './frame.js';

/** Bytes of frames in flight (copied, not yet taken by the socket) before a write waits: the pipeline's depth. */
const IN_FLIGHT = 16 << 20;
/** Copy buffers kept for reuse: a read buffer (4 MiB by default) and its header fit one. */
const POOL_BUFFER = (4 << 20) + 4096;
const POOL_MAX = 6;
/** Compressed frames carry at most this much (before compression). */
const COMPRESS_BLOCK = 1 << 20;
/** Copies from this size on use the pool. */
const POOLED = 256 << 10;

export class PageStream extends Duplex implements ReplyTarget {
  private inflight = 0;
  private readonly pool: Buffer[] = [];
  private waiting: ((e?: Error) => void) | undefined;

  constructor(private readonly channel: Channel) {
    super({ allowHalfOpen: true });
    channel.routeReplies(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.frame([chunk], cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    this.frame(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  /**
   * One PAGES frame of `copy` (ours: the writer's buffer is free again once the callback runs). Up to
   * IN_FLIGHT bytes are sent while the next buffer is read: a write waits only past that (one buffer in
   * flight at a time would leave the link idle while the target is read, and the reader idle meanwhile).
   */
  private frame(parts: readonly Buffer[], cb: (e?: Error | null) => void): void {
    let len = 0;
    for (const p of parts) len += p.length;
    // a large copy goes into a buffer used before (fresh memory costs its first touch: ~1.5 ms/MiB
    // here); a small one (a header, a few pages) into a fresh small buffer
    let buf: Buffer | undefined;
    if (len >= POOLED) {
      const i = this.pool.findIndex((b) => b.length >= len);
      buf = i >= 0 ? this.pool.splice(i, 1)[0]! : Buffer.allocUnsafeSlow(Math.max(len, POOL_BUFFER));
    }
    const copy = buf ? buf.subarray(0, len) : Buffer.allocUnsafe(len);
    let at = 0;
    for (const p of parts) at += p.copy(copy, at);
    this.inflight += len;
    // compressed: blocks of COMPRESS_BLOCK (a codec takes at most 4 MiB; 1 MiB compresses as well)
    const block = this.channel.codecName === 'none' ? len : COMPRESS_BLOCK;
    let sent: Promise<void> = Promise.resolve();
    for (let at = 0; at < len; at += block) {
      sent = this.channel.send(FRAME.PAGES, copy.subarray(at, Math.min(len, at + block)), true);
      sent.catch(() => {}); // the channel's failure reaches us through the last frame's promise
    }
    sent.then(
      () => {
        this.inflight -= len;
        if (buf && this.pool.length < POOL_MAX) this.pool.push(buf);
        if (this.inflight < IN_FLIGHT) {
          const w = this.waiting;
          this.waiting = undefined;
          w?.();
        }
      },
      (e: Error) => {
        this.release(e);
        this.destroy(e);
      },
    );
    if (this.inflight < IN_FLIGHT) cb();
    else this.waiting = (e?: Error) => cb(e);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.channel.send(FRAME.PAGES_END).then(() => cb(), cb); // after every PAGES frame: the socket keeps order
  }

  override _read(): void {}

  override _destroy(e: Error | null, cb: (e: Error | null) => void): void {
    this.channel.routeReplies(undefined);
    this.release(e ?? new Error('page stream destroyed'));
    cb(e);
  }

  /** A write held back for the pipeline's depth fails with `e` (its writer must not wait forever). */
  private release(e: Error): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.(e);
  }

  reply(bytes: Buffer): void {
    this.push(bytes);
  }

  replyEnd(): void {
    this.push(null);
  }

  fail(e: Error): void {
    this.destroy(e);
  }
}
