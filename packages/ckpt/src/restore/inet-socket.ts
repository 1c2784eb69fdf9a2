/**
 * An IPv4/IPv6 TCP or UDP socket of an INETSK entry, made again inside the process being restored:
 *
 * ```
 * socket(family, type, proto) -> SO_REUSEADDR 1 (a port left in TIME_WAIT by accepted connections must
 * not block the bind) -> IPV6_V6ONLY -> bind(src) when it was bound -> listen(backlog) (LISTEN) |
 * connect(dst) (a connected UDP socket) -> every option of sk_opts / tcp_opts (SO_REUSEADDR as dumped
 * last) -> O_NONBLOCK as recorded
 * ```
 * Buffer sizes: getsockopt reports twice what setsockopt takes, so half is set; then SO_BUF_LOCK as dumped
 * (a size the program never set stays autotuned). A TCP socket that was neither listening nor connected
 * (state CLOSE) is made and bound only. Used for ckpt's dumps and CRIU's (same entries).
 *
 * @example
 * const fd = openInetSocket(task, file.isk); // then parked like any other descriptor
 */
import { join } from 'node:path';
import {
  type ImageDir,
  type InetSkEntry,
  type TcpStreamEntry,
  tcpStreamEntryCodec,
} from '../images/index.js';
import { AF, F, IPV6_V6ONLY, O, RSYS, SO, SOL, TCP_OPT, TCP_REPAIR } from '../sys/index.js';
import { readBlobImage } from './blob-image.js';
import { RestoreError } from './errors.js';
import type { RemoteTask } from './remote-task.js';
import { putArg, writeInTask } from './task-args.js';

/** An established connection's tcp-stream image: the entry and the two queues' bytes. */
export interface TcpStreamImage {
  readonly entry: TcpStreamEntry;
  readonly inq: Buffer;
  readonly outq: Buffer;
}

/** The tcp-stream image of established TCP socket `isk` in `dir` (undefined for any other socket). */
export function readTcpStream(dir: ImageDir, isk: InetSkEntry): TcpStreamImage | undefined {
  if (isk.proto !== 6 || isk.state !== TCP_ESTABLISHED) return undefined;
  const path = join(dir.path, `tcp-stream-${isk.ino.toString(16)}.img`);
  const [one] = readBlobImage(
    path,
    (b) => tcpStreamEntryCodec.decode(b),
    (e) => e.inq_len + e.outq_len,
  );
  if (!one) throw new RestoreError('CORRUPT_IMAGE', `${path}: missing or empty (an established connection)`);
  const { entry, data } = one;
  return { entry, inq: data.subarray(0, entry.inq_len), outq: data.subarray(entry.inq_len) };
}

const TCPI_OPT = { TIMESTAMPS: 1, SACK: 2, WSCALE: 4 } as const;
const TCPOPT = { MAXSEG: 2, WINDOW: 3, SACK_PERM: 4, TIMESTAMP: 8 } as const;

const TCP_LISTEN = 10;
const TCP_ESTABLISHED = 1;
const SNDBUF_LOCK = 1;
const RCVBUF_LOCK = 2;

/** sockaddr_in / sockaddr_in6 of CRIU's address words (network-order bytes as little-endian words). */
function sockaddr(family: number, words: readonly number[] | undefined, port: number): Buffer {
  const b = Buffer.alloc(family === AF.INET6 ? 28 : 16);
  b.writeUInt16LE(family, 0);
  b.writeUInt16BE(port, 2);
  const at = family === AF.INET6 ? 8 : 4;
  const w = (words ?? []).slice(0, family === AF.INET6 ? 4 : 1);
  for (let i = 0; i < w.length; i++) b.writeUInt32LE(w[i]! >>> 0, at + 4 * i);
  return b;
}

const bound = (words: readonly number[] | undefined, port: number) =>
  port !== 0 || (words ?? []).some((w) => w !== 0);

/**
 * The socket of `isk` inside `task`; returns its fd there (O_CLOEXEC off, as every restored fd).
 * `stream`: the connection of an established TCP socket (tcp-stream image), restored with TCP repair.
 */
export function openInetSocket(task: RemoteTask, isk: InetSkEntry, stream?: TcpStreamImage): number {
  const what = `${isk.family === AF.INET6 ? 'IPv6' : 'IPv4'} socket ${isk.ino}`;
  const established = isk.proto === 6 && isk.state === TCP_ESTABLISHED;
  if (established && !stream)
    throw new RestoreError('CORRUPT_IMAGE', `${what}: established, but no tcp-stream image`);
  const fd = task.call(`socket (${what})`, RSYS.socket, isk.family, isk.type, isk.proto);
  const set = (level: number, name: number, value: Buffer, label: string) =>
    task.call(
      `setsockopt ${label} (${what})`,
      RSYS.setsockopt,
      fd,
      level,
      name,
      putArg(task, value),
      value.length,
    );
  const int = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v | 0);
    return b;
  };
  const flag = (level: number, name: number, on: boolean | number | undefined, label: string) => {
    if (on !== undefined) set(level, name, int(Number(on)), label);
  };
  const o = isk.opts;
  set(SOL.SOCKET, SO.REUSEADDR, int(1), 'SO_REUSEADDR');
  // repair mode after SO_REUSEADDR: it forces reuse (SK_FORCE_REUSE), so that an accepted connection binds
  // the port its listener holds already; SO_REUSEADDR after it would take that back (EADDRINUSE)
  if (established) set(SOL.TCP, TCP_OPT.REPAIR, int(TCP_REPAIR.ON), 'TCP_REPAIR on');
  if (isk.family === AF.INET6 && isk.v6only !== undefined)
    flag(SOL.IPV6, IPV6_V6ONLY, isk.v6only, 'IPV6_V6ONLY');
  flag(SOL.SOCKET, SO.REUSEPORT, o.so_reuseport, 'SO_REUSEPORT');
  if (o.so_bound_dev) set(SOL.SOCKET, SO.BINDTODEVICE, Buffer.from(`${o.so_bound_dev}\0`), 'SO_BINDTODEVICE');
  if (bound(isk.src_addr, isk.src_port)) {
    const addr = sockaddr(isk.family, isk.src_addr, isk.src_port);
    task.call(`bind (${what}, port ${isk.src_port})`, RSYS.bind, fd, putArg(task, addr), addr.length);
  }
  if (isk.state === TCP_LISTEN) task.call(`listen (${what})`, RSYS.listen, fd, isk.backlog);
  else if (established) restoreStream(task, fd, isk, stream!, what, set, int);
  else if (isk.state === TCP_ESTABLISHED && isk.proto === 17) {
    const addr = sockaddr(isk.family, isk.dst_addr, isk.dst_port);
    task.call(`connect (${what})`, RSYS.connect, fd, putArg(task, addr), addr.length);
  }
  const lock = o.so_buf_lock;
  if (lock === undefined || lock & SNDBUF_LOCK) set(SOL.SOCKET, SO.SNDBUF, int(o.so_sndbuf / 2), 'SO_SNDBUF');
  if (lock === undefined || lock & RCVBUF_LOCK) set(SOL.SOCKET, SO.RCVBUF, int(o.so_rcvbuf / 2), 'SO_RCVBUF');
  if (lock !== undefined) set(SOL.SOCKET, SO.BUF_LOCK, int(lock), 'SO_BUF_LOCK');
  flag(SOL.SOCKET, SO.PRIORITY, o.so_priority, 'SO_PRIORITY');
  if (o.so_rcvlowat !== undefined && o.so_rcvlowat !== 1)
    flag(SOL.SOCKET, SO.RCVLOWAT, o.so_rcvlowat, 'SO_RCVLOWAT');
  if (o.so_mark) flag(SOL.SOCKET, SO.MARK, o.so_mark, 'SO_MARK');
  if (o.so_passcred) flag(SOL.SOCKET, SO.PASSCRED, true, 'SO_PASSCRED');
  if (o.so_passsec) flag(SOL.SOCKET, SO.PASSSEC, true, 'SO_PASSSEC');
  if (o.so_dontroute) flag(SOL.SOCKET, SO.DONTROUTE, true, 'SO_DONTROUTE');
  if (o.so_no_check) flag(SOL.SOCKET, SO.NO_CHECK, true, 'SO_NO_CHECK');
  if (o.so_broadcast) flag(SOL.SOCKET, SO.BROADCAST, true, 'SO_BROADCAST');
  if (o.so_keepalive) flag(SOL.SOCKET, SO.KEEPALIVE, true, 'SO_KEEPALIVE');
  if (o.so_oobinline) flag(SOL.SOCKET, SO.OOBINLINE, true, 'SO_OOBINLINE');
  if (o.so_linger !== undefined) {
    const l = Buffer.alloc(8);
    l.writeInt32LE(1, 0);
    l.writeInt32LE(o.so_linger, 4);
    set(SOL.SOCKET, SO.LINGER, l, 'SO_LINGER');
  }
  for (const [name, sec, usec, label] of [
    [SO.SNDTIMEO, o.so_snd_tmo_sec, o.so_snd_tmo_usec, 'SO_SNDTIMEO'],
    [SO.RCVTIMEO, o.so_rcv_tmo_sec, o.so_rcv_tmo_usec, 'SO_RCVTIMEO'],
  ] as const) {
    if (sec === 0n && usec === 0n) continue;
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(BigInt(sec), 0);
    tv.writeBigInt64LE(BigInt(usec), 8);
    set(SOL.SOCKET, name, tv, label);
  }
  const t = isk.tcp_opts;
  if (t?.nodelay) flag(SOL.TCP, TCP_OPT.NODELAY, true, 'TCP_NODELAY');
  if (t?.cork) flag(SOL.TCP, TCP_OPT.CORK, true, 'TCP_CORK');
  if (t?.keepcnt) flag(SOL.TCP, TCP_OPT.KEEPCNT, t.keepcnt, 'TCP_KEEPCNT');
  if (t?.keepidle) flag(SOL.TCP, TCP_OPT.KEEPIDLE, t.keepidle, 'TCP_KEEPIDLE');
  if (t?.keepintvl) flag(SOL.TCP, TCP_OPT.KEEPINTVL, t.keepintvl, 'TCP_KEEPINTVL');
  if (established) set(SOL.TCP, TCP_OPT.REPAIR, int(TCP_REPAIR.OFF), 'TCP_REPAIR off'); // a window probe goes out
  set(SOL.SOCKET, SO.REUSEADDR, int(Number(o.reuseaddr ?? false)), 'SO_REUSEADDR');
  if (isk.flags & O.NONBLOCK) task.call(`fcntl O_NONBLOCK (${what})`, RSYS.fcntl, fd, F.SETFL, O.NONBLOCK);
  return fd;
}

type SetOpt = (level: number, name: number, value: Buffer, label: string) => number;

/**
 * The connection of an established socket, in repair mode (CRIU's libsoccr): both queues' sequence
 * numbers, connect (no SYN in repair mode), the negotiated options and timestamp, the receive queue's
 * bytes, the send queue's sent part (repair mode: as already sent), its unsent part (repair off: sent for
 * real), the window.
 */
function restoreStream(
  task: RemoteTask,
  fd: number,
  isk: InetSkEntry,
  s: TcpStreamImage,
  what: string,
  set: SetOpt,
  int: (v: number) => Buffer,
): void {
  const e = s.entry;
  const u32 = (v: number) => int((v >>> 0) | 0);
  set(SOL.TCP, TCP_OPT.REPAIR_QUEUE, int(TCP_REPAIR.RECV_QUEUE), 'TCP_REPAIR_QUEUE recv');
  set(SOL.TCP, TCP_OPT.QUEUE_SEQ, u32(e.inq_seq - e.inq_len), 'TCP_QUEUE_SEQ recv');
  set(SOL.TCP, TCP_OPT.REPAIR_QUEUE, int(TCP_REPAIR.SEND_QUEUE), 'TCP_REPAIR_QUEUE send');
  set(SOL.TCP, TCP_OPT.QUEUE_SEQ, u32(e.outq_seq - e.outq_len), 'TCP_QUEUE_SEQ send');
  const dst = sockaddr(isk.family, isk.dst_addr, isk.dst_port);
  task.call(`connect (${what}, repair)`, RSYS.connect, fd, putArg(task, dst), dst.length);
  const opts: [number, number][] = [];
  if (e.opt_mask & TCPI_OPT.SACK) opts.push([TCPOPT.SACK_PERM, 0]);
  if (e.opt_mask & TCPI_OPT.WSCALE) opts.push([TCPOPT.WINDOW, e.snd_wscale + ((e.rcv_wscale ?? 0) << 16)]);
  if (e.opt_mask & TCPI_OPT.TIMESTAMPS) opts.push([TCPOPT.TIMESTAMP, 0]);
  opts.push([TCPOPT.MAXSEG, e.mss_clamp]);
  const ob = Buffer.alloc(8 * opts.length);
  opts.forEach(([code, val], i) => {
    ob.writeUInt32LE(code, 8 * i);
    ob.writeUInt32LE(val >>> 0, 8 * i + 4);
  });
  set(SOL.TCP, TCP_OPT.REPAIR_OPTIONS, ob, 'TCP_REPAIR_OPTIONS');
  if (e.opt_mask & TCPI_OPT.TIMESTAMPS)
    set(SOL.TCP, TCP_OPT.TIMESTAMP, u32(e.timestamp ?? 0), 'TCP_TIMESTAMP');
  set(SOL.TCP, TCP_OPT.REPAIR_QUEUE, int(TCP_REPAIR.RECV_QUEUE), 'TCP_REPAIR_QUEUE recv');
  writeInTask(task, fd, s.inq, `${what} (receive queue)`, true);
  const unsent = e.unsq_len ?? 0;
  set(SOL.TCP, TCP_OPT.REPAIR_QUEUE, int(TCP_REPAIR.SEND_QUEUE), 'TCP_REPAIR_QUEUE send');
  writeInTask(task, fd, s.outq.subarray(0, s.outq.length - unsent), `${what} (send queue, sent)`, true);
  if (unsent > 0) {
    set(SOL.TCP, TCP_OPT.REPAIR, int(TCP_REPAIR.OFF), 'TCP_REPAIR off');
    writeInTask(task, fd, s.outq.subarray(s.outq.length - unsent), `${what} (send queue, unsent)`, true);
    set(SOL.TCP, TCP_OPT.REPAIR, int(TCP_REPAIR.ON), 'TCP_REPAIR on');
  }
  if (e.snd_wl1 !== undefined) {
    const w = Buffer.alloc(20);
    [e.snd_wl1, e.snd_wnd ?? 0, e.max_window ?? 0, e.rcv_wnd ?? 0, e.rcv_wup ?? 0].forEach((v, i) => {
      w.writeUInt32LE(v >>> 0, 4 * i);
    });
    set(SOL.TCP, TCP_OPT.REPAIR_WINDOW, w, 'TCP_REPAIR_WINDOW');
  }
}
