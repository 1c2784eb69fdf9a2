/**
 * The unix sockets of UNIXSK entries, made again inside the root of the tree being restored (the children
 * inherit them like every other descriptor):
 *
 * ```
 * a pair (two entries, each the other's peer)   socketpair(AF_UNIX, type) once for both; each end's
 *                                               queued packets (sk-queues.img) written through the
 *                                               other end, one write per packet; shutdown as dumped
 * a listener, a bound socket                    socket; a stale socket file at the path removed (only
 *                                               when no socket of the namespace is bound to it: a live
 *                                               one is refused, EBUSY); bind(name); the file's mode and
 *                                               owner as dumped; listen(backlog)
 * an unbound, unconnected socket                socket
 * then each: O_NONBLOCK as recorded
 * ```
 * A socket connected one way (to a bound socket that is not connected back: a datagram client) or to a
 * socket outside the tree is refused (ENOTSUP), as the dump refuses it. The pair is not the accept()ed
 * connection it may have been: the names getsockname/getpeername report are not kept (CRIU keeps them).
 *
 * @example
 * const unix = new UnixSockets(task, files, queues);
 * for (const [id, fd] of unix.open(entry.usk)) parked.set(id, park(fd));
 */
import { chmodSync, chownSync, lstatSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  type FileEntry,
  type ImageDir,
  skPacketEntryCodec,
  type UnixSkEntry,
  unixNamePath,
} from '../images/index.js';
import { AF, F, O, RSYS, unixSockets } from '../sys/index.js';
import { readBlobImage } from './blob-image.js';
import { MAX_DATA } from './call-batch.js';
import { RestoreError } from './errors.js';
import type { RemoteTask } from './remote-task.js';
import { putArg, writeInTask } from './task-args.js';

const TCP_LISTEN = 10;
const SOCK_STREAM = 1;

/** sk-queues.img: the packets queued for each socket, by its files.img id (absent file: none). */
export function readSkQueues(dir: ImageDir): Map<number, Buffer[]> {
  const out = new Map<number, Buffer[]>();
  const path = join(dir.path, 'sk-queues.img');
  for (const { entry, data } of readBlobImage(
    path,
    (b) => skPacketEntryCodec.decode(b),
    (e) => e.length,
  )) {
    const list = out.get(entry.id_for) ?? [];
    list.push(data);
    out.set(entry.id_for, list);
  }
  return out;
}

export class UnixSockets {
  private readonly byIno = new Map<number, UnixSkEntry>();

  /**
   * `files`: every files.img entry; `queues`: the packets of sk-queues.img by the receiving socket's id.
   */
  constructor(
    private readonly task: RemoteTask,
    files: Iterable<FileEntry>,
    private readonly queues: ReadonlyMap<number, readonly Buffer[]>,
  ) {
    for (const f of files) if (f.usk) this.byIno.set(f.usk.ino, f.usk);
  }

  /** The socket of `usk` (and of its peer, for a pair): [files.img id, fd in the task] each. */
  open(usk: UnixSkEntry): [number, number][] {
    const what = `unix socket ${usk.ino}`;
    if (usk.peer !== 0) {
      const peer = this.byIno.get(usk.peer);
      if (!peer)
        throw new RestoreError('ENOTSUP', `${what}: connected to socket ${usk.peer}, outside the tree`);
      if (peer.peer !== usk.ino)
        throw new RestoreError(
          'ENOTSUP',
          `${what}: connected one way to socket ${usk.peer} (not restored yet)`,
        );
      return this.pair(usk, peer);
    }
    if ((this.queues.get(usk.id)?.length ?? 0) > 0)
      throw new RestoreError('ENOTSUP', `${what}: packets queued on an unpaired socket (not restored yet)`);
    const fd = this.task.call(`socket (${what})`, RSYS.socket, AF.UNIX, usk.type, 0);
    if (usk.name.length > 0) this.bind(fd, usk, what);
    if (usk.state === TCP_LISTEN) this.task.call(`listen (${what})`, RSYS.listen, fd, usk.backlog);
    this.finish(fd, usk, what);
    return [[usk.id, fd]];
  }

  private pair(a: UnixSkEntry, b: UnixSkEntry): [number, number][] {
    const what = `unix socket pair ${a.ino}/${b.ino}`;
    const at = putArg(this.task, Buffer.alloc(8));
    this.task.call(`socketpair (${what})`, RSYS.socketpair, AF.UNIX, a.type, 0, at);
    const sv = this.task.read(at, 8);
    const [fa, fb] = [sv.readInt32LE(0), sv.readInt32LE(4)];
    this.send(fb, this.queues.get(a.id), a, what);
    this.send(fa, this.queues.get(b.id), b, what);
    this.finish(fa, a, what);
    this.finish(fb, b, what);
    return [
      [a.id, fa],
      [b.id, fb],
    ];
  }

  /** The packets queued for `to`, written through the other end `fd` (one write per packet). */
  private send(fd: number, packets: readonly Buffer[] | undefined, to: UnixSkEntry, what: string): void {
    for (const p of packets ?? []) {
      if (to.type !== SOCK_STREAM && p.length > MAX_DATA)
        throw new RestoreError(
          'ENOTSUP',
          `${what}: a queued packet of ${p.length} bytes (at most ${MAX_DATA})`,
        );
      writeInTask(this.task, fd, p, `${what}, queued`);
    }
  }

  private bind(fd: number, usk: UnixSkEntry, what: string): void {
    const path = unixNamePath(usk.name);
    if (path !== undefined) this.clearStale(path, what);
    const addr = Buffer.concat([Buffer.from([AF.UNIX, 0]), Buffer.from(usk.name)]);
    this.task.call(
      `bind ${path ?? 'an abstract name'} (${what})`,
      RSYS.bind,
      fd,
      putArg(this.task, addr),
      addr.length,
    );
    if (path !== undefined && usk.file_perms) {
      chmodSync(path, usk.file_perms.mode & 0o7777);
      chownSync(path, usk.file_perms.uid, usk.file_perms.gid);
    }
  }

  /** Remove the socket file a dead socket left at `path`; refuse when a live socket is bound to it. */
  private clearStale(path: string, what: string): void {
    let isSocket = false;
    try {
      isSocket = lstatSync(path).isSocket();
    } catch {
      return; // nothing there
    }
    if (!isSocket) throw new RestoreError('EBUSY', `${what}: ${path} exists and is not a socket`);
    for (const d of unixSockets().values())
      if (d.name && unixNamePath(d.name) === path)
        throw new RestoreError('EBUSY', `${what}: ${path} is bound by a live socket (socket:[${d.ino}])`);
    unlinkSync(path);
  }

  private finish(fd: number, usk: UnixSkEntry, what: string): void {
    if (usk.shutdown) this.task.call(`shutdown (${what})`, RSYS.shutdown, fd, usk.shutdown - 1);
    if (usk.flags & O.NONBLOCK)
      this.task.call(`fcntl O_NONBLOCK (${what})`, RSYS.fcntl, fd, F.SETFL, O.NONBLOCK);
  }
}
