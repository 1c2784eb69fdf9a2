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
 * Each write's callback fires when the channel's socket took the frame, so the client's flush() waits for
 * the link exactly as it does on a socket (one read buffer in flight).
 *
 * @example
 * const sink = await PageServerClient.over(new PageStream(channel), { address: '', port: 0, label: 'the destination', keepOpen: true });
 */
import { Duplex } from 'node:stream';
import type { Channel, ReplyTarget } from './channel.js';
import { FRAME } from './frame.js';

export class PageStream extends Duplex implements ReplyTarget {
  constructor(private readonly channel: Channel) {
    super({ allowHalfOpen: true });
    channel.routeReplies(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.channel.send(FRAME.PAGES, chunk, true).then(() => cb(), cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    const one = chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this.channel.send(FRAME.PAGES, one, true).then(() => cb(), cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.channel.send(FRAME.PAGES_END).then(() => cb(), cb);
  }

  override _read(): void {}

  override _destroy(e: Error | null, cb: (e: Error | null) => void): void {
    this.channel.routeReplies(undefined);
    cb(e);
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
