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
 * Each write is copied into a frame, and its callback fires at once while less than IN_FLIGHT bytes are
 * on their way (else when the socket took enough of them): the client's flush() lets the reader go on
 * reading while the link carries the previous buffers, with memory bounded by IN_FLIGHT. Small writes (a
 * run's header, a page or a few of scattered memory, a parent hole) are gathered into one batch frame,
 * sent when it is full, before a large write, or once the client's synchronous burst is over
 * (setImmediate): a frame per page cost ~200 us a page (a promise, a frame and a socket write each); the
 * destination parses the protocol as a stream, so where frames end does not matter.
 *
 * @example
 * const sink = await PageServerClient.over(new PageStream(channel), { address: '', port: 0, label: 'the destination', keepOpen: true });
 */
import { Duplex } from 'node:stream';
import type { GatheringStream } from '../xfer/index.js';
import type { Channel, ReplyTarget } from './channel.js';
import { FRAME } from './frame.js';

/** Bytes of frames in flight (copied, not yet taken by the socket) before a write waits: the pipeline's depth. */
const IN_FLIGHT = 16 << 20;
/** A large write's copy buffer: a read buffer (4 MiB by default) and its header fit one. */
const POOL_BUFFER = (4 << 20) + 4096;
/** Compressed frames carry at most this much (before compression). */
const COMPRESS_BLOCK = 1 << 20;
/** Writes from this size on get a frame of their own; smaller ones are gathered (BATCH). */
const POOLED = 256 << 10;

/** A batch of small writes is sent at this size at most. */
const BATCH = 1 << 20;

/**
 * Copy buffers by size (BATCH, POOL_BUFFER), kept for every stream of the process: memory touched for the
 * first time is slow here (~3.5 ms/MiB on this VM, the host backing each page), and an incremental
 * iteration's scattered pages fill a batch per 1 MiB: with a 4 MiB buffer taken fresh for most batches
 * (6 kept, a stream's own) the copy into them was a third of the source's time at 4 GiB. As many are
 * kept as IN_FLIGHT holds, and two more.
 */
const pools = new Map<number, Buffer[]>([
  [BATCH, []],
  [POOL_BUFFER, []],
]);
const keep = (size: number) => Math.ceil(IN_FLIGHT / size) + 2;

/** A buffer of at least `len` bytes (from the pool when one of its size class is free). */
function takeBuffer(len: number): Buffer {
  const size = len <= BATCH ? BATCH : Math.max(len, POOL_BUFFER);
  return pools.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size);
}

/** `buf` back to its pool (dropped past the pool's bound, or when it is of no pooled size). */
function giveBuffer(buf: Buffer): void {
  const p = pools.get(buf.length);
  if (p && p.length < keep(buf.length)) p.push(buf);
}

export class PageStream extends Duplex implements ReplyTarget, GatheringStream {
  private inflight = 0;
  /** Writes held back for the pipeline's depth (their callbacks), in order. */
  private waiting: ((e?: Error) => void)[] = [];
  /** Small writes gathered for one frame (BATCH bytes), and how much of it is filled. */
  private batch: Buffer | undefined;
  private batchLen = 0;
  private flushScheduled = false;

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
    if (len < POOLED) {
      this.gather(parts, len);
      this.whenRoom((e) => cb(e));
      return;
    }
    this.sendBatch(); // what was gathered before goes first
    // a large copy goes into a buffer used before (fresh memory costs its first touch: ~1.5 ms/MiB here)
    const buf = takeBuffer(len);
    const copy = buf.subarray(0, len);
    let at = 0;
    for (const p of parts) at += p.copy(copy, at);
    this.inflight += len;
    this.sendFrames(copy, buf);
    this.whenRoom((e) => cb(e));
  }

  /**
   * A write that skips the Writable machinery (PageServerClient's page runs and holes: a run of scattered
   * memory is a page or a few, and a Writable write, cork and callback each cost more than its copy):
   * gathered like a small write; `done` as a write callback. False, and nothing taken, while writes wait
   * in the Writable (they go first: the caller then writes as usual).
   */
  writeGathered(parts: readonly Uint8Array[], done: (e?: Error) => void): boolean {
    if (this.writableLength > 0 || this.destroyed || this.writableEnded) return false;
    let len = 0;
    for (const p of parts) len += p.length;
    if (len >= POOLED) return false;
    this.gather(parts, len);
    this.whenRoom(done);
    return true;
  }

  /** `cb` at once while less than IN_FLIGHT bytes are on their way, else once they are. */
  private whenRoom(cb: (e?: Error) => void): void {
    if (this.inflight < IN_FLIGHT) cb();
    else this.waiting.push(cb);
  }

  /** Copy a small write into the batch (sent when full, or after this burst of writes). */
  private gather(parts: readonly Uint8Array[], len: number): void {
    if (this.batch && this.batchLen + len > BATCH) this.sendBatch();
    this.batch ??= takeBuffer(BATCH);
    for (const p of parts) {
      this.batch.set(p, this.batchLen);
      this.batchLen += p.length;
    }
    this.inflight += len;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        if (!this.destroyed) this.sendBatch();
      });
    }
  }

  /** The batch so far as one frame (nothing when empty). */
  private sendBatch(): void {
    const b = this.batch;
    if (!b || this.batchLen === 0) return;
    const len = this.batchLen;
    this.batch = undefined;
    this.batchLen = 0;
    this.sendFrames(b.subarray(0, len), b);
  }

  /** PAGES frames of `copy` (`buf`, its pooled buffer, goes back to the pool once sent). */
  private sendFrames(copy: Buffer, buf: Buffer | undefined): void {
    const len = copy.length;
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
        if (buf) giveBuffer(buf);
        if (this.inflight < IN_FLIGHT) for (const w of this.waiting.splice(0)) w();
      },
      (e: Error) => {
        this.release(e);
        this.destroy(e);
      },
    );
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.sendBatch();
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
    for (const w of this.waiting.splice(0)) w(e);
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
