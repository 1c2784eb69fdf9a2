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
 * const fd = openInetSocket(task, trampoline, file.isk); // then parked like any other descriptor
 */
import type { InetSkEntry } from '../images/index.js';
import { AF, F, IPV6_V6ONLY, O, RSYS, SO, SOL, TCP_OPT } from '../sys/index.js';
import type { RemoteTask } from './remote-task.js';
import { putArg } from './task-args.js';

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

/** The socket of `isk` inside `task`; returns its fd there (O_CLOEXEC off, as every restored fd). */
export function openInetSocket(task: RemoteTask, trampoline: number, isk: InetSkEntry): number {
  const what = `${isk.family === AF.INET6 ? 'IPv6' : 'IPv4'} socket ${isk.ino}`;
  const fd = task.call(`socket (${what})`, RSYS.socket, isk.family, isk.type, isk.proto);
  const set = (level: number, name: number, value: Buffer, label: string) =>
    task.call(
      `setsockopt ${label} (${what})`,
      RSYS.setsockopt,
      fd,
      level,
      name,
      putArg(task, trampoline, value),
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
  if (isk.family === AF.INET6 && isk.v6only !== undefined)
    flag(SOL.IPV6, IPV6_V6ONLY, isk.v6only, 'IPV6_V6ONLY');
  flag(SOL.SOCKET, SO.REUSEPORT, o.so_reuseport, 'SO_REUSEPORT');
  if (o.so_bound_dev) set(SOL.SOCKET, SO.BINDTODEVICE, Buffer.from(`${o.so_bound_dev}\0`), 'SO_BINDTODEVICE');
  if (bound(isk.src_addr, isk.src_port)) {
    const addr = sockaddr(isk.family, isk.src_addr, isk.src_port);
    task.call(
      `bind (${what}, port ${isk.src_port})`,
      RSYS.bind,
      fd,
      putArg(task, trampoline, addr),
      addr.length,
    );
  }
  if (isk.state === TCP_LISTEN) task.call(`listen (${what})`, RSYS.listen, fd, isk.backlog);
  else if (isk.state === TCP_ESTABLISHED && isk.proto === 17) {
    const addr = sockaddr(isk.family, isk.dst_addr, isk.dst_port);
    task.call(`connect (${what})`, RSYS.connect, fd, putArg(task, trampoline, addr), addr.length);
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
  set(SOL.SOCKET, SO.REUSEADDR, int(Number(o.reuseaddr ?? false)), 'SO_REUSEADDR');
  if (isk.flags & O.NONBLOCK) task.call(`fcntl O_NONBLOCK (${what})`, RSYS.fcntl, fd, F.SETFL, O.NONBLOCK);
  return fd;
}
