/**
 * The sockets a full dump holds: IPv4/IPv6 TCP sockets listening or not yet connected, and UDP sockets
 * (bound, connected or not). Read from a duplicate ckpt takes of the target's descriptor (pidfd_getfd),
 * nothing injected: getsockopt, getsockname, getpeername and TCP_INFO (state; for a listener its backlog
 * and the connections waiting to be accepted).
 *
 * ```
 * socket:[ino]  -> pidfd_getfd -> SO_DOMAIN / SO_TYPE / SO_PROTOCOL -> AF_INET(6) TCP | UDP, else refused
 *               TCP_INFO state: LISTEN (backlog = tcpi_sacked, waiting = tcpi_unacked) | CLOSE | others refused
 *               addresses, SO_* and TCP_* options (sk-opts.proto, tcp_opts) -> INETSK entry
 * ```
 * unix sockets: their peer, backlog, queue lengths and name come from sock_diag (sys/unix-diag.ts); what
 * waits in a receive queue is peeked (SO_PEEK_OFF, one recvmsg per packet, CRIU's way; the peek offset
 * is put back), so the queue is read, not taken.
 *
 * Established TCP connections with --tcp-established (tcp-stream.ts: TCP repair). Refused, one line each:
 * netlink, packet and raw sockets; TCP connections without --tcp-established, or in another state; a listener with connections waiting to be accepted (they would be lost); a socket
 * with a BPF filter attached; a unix socket connected to one outside the tree, bound to a relative path
 * or to a path since removed, or with descriptors or credentials in flight in its queue.
 *
 * @example
 * const s = socketFacts(pid, 5);  // { family: 2, type: 1, state: 10, backlog: 511, src: { port: 8080, ... } }
 * socketRefusal(s);               // undefined: it can be dumped
 */

import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { type SkOptsEntry, type TcpOptsEntry, unixNamePath } from '../../images/index.js';
import {
  AF,
  closeFd,
  getsockoptBytes,
  getsockoptInt,
  getsockoptLength,
  IPV6_V6ONLY,
  MSG_FLAG,
  peerName,
  pidfdGetfd,
  pidfdOpen,
  recvPeek,
  SO,
  SOL,
  setsockoptInt,
  sockName,
  TCP_OPT,
  type UnixDiag,
  unixSockets,
} from '../../sys/index.js';
import { readTcpStream, type TcpStream } from './tcp-stream.js';

const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
/** TCP states (include/net/tcp_states.h). */
export const TCP_STATE = { ESTABLISHED: 1, CLOSE: 7, LISTEN: 10 } as const;
const TCP_STATE_NAMES = [
  '',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
];

/** One end of an address: CRIU's words (network-order bytes read little-endian) and the port. */
export interface SockEnd {
  readonly words: number[];
  readonly port: number;
}

export interface SocketFacts {
  readonly family: number;
  readonly type: number;
  readonly proto: number;
  /** A TCP state; UDP: ESTABLISHED when connected, else CLOSE. */
  readonly state: number;
  /** A listener's backlog (0 otherwise). */
  readonly backlog: number;
  /** Connections waiting to be accepted (listeners). */
  readonly waiting: number;
  readonly src: SockEnd;
  readonly dst: SockEnd;
  readonly opts: SkOptsEntry;
  readonly tcpOpts?: TcpOptsEntry;
  readonly v6only?: boolean;
  /** Instructions of an attached socket filter. */
  readonly filterLength: number;
  /** AF_UNIX: what sock_diag says, the packets of its receive queue, why it cannot be dumped. */
  readonly unix?: UnixFacts;
  /** An established TCP connection read with TCP repair (tcp-stream.ts; asked for, and frozen). */
  readonly stream?: TcpStream;
}

export interface UnixFacts {
  readonly diag: UnixDiag;
  /** Connected to a socket that is not connected back (a datagram client of a bound socket). */
  readonly oneWay: boolean;
  readonly packets: readonly Buffer[];
  readonly unreadable?: string;
}

/** Every unix socket of the namespace by inode, loaded on first use (one sock_diag dump per caller). */
export type UnixTable = () => ReadonlyMap<number, UnixDiag>;

/**
 * The receive queue of unix socket `fd` (a duplicate), packet by packet, read with MSG_PEEK from offset 0
 * (SO_PEEK_OFF, put back after). `whole` false (the process runs): only the first packet, and only when
 * the socket has no peek offset of its own (a plain peek then changes nothing), to find descriptors in
 * flight up front; nothing is kept.
 */
function peekQueue(fd: number, d: UnixDiag, whole: boolean): { packets: Buffer[]; unreadable?: string } {
  const packets: Buffer[] = [];
  if (d.state === TCP_STATE.LISTEN || d.rqueue === 0) return { packets };
  const before = getsockoptInt(fd, SOL.SOCKET, SO.PEEK_OFF);
  if (!whole && before !== -1) return { packets };
  if (whole) setsockoptInt(fd, SOL.SOCKET, SO.PEEK_OFF, 0);
  try {
    for (;;) {
      const got = recvPeek(fd, Math.max(d.rqueue, 64 * 1024));
      if (!got || got.bytes.length === 0) break;
      if (got.flags & MSG_FLAG.CTRUNC)
        return {
          packets,
          unreadable: 'a unix socket with descriptors or credentials in flight in its queue',
        };
      if (got.flags & MSG_FLAG.TRUNC)
        return { packets, unreadable: 'a unix socket whose queued datagram did not fit' };
      if (!whole) return { packets };
      packets.push(Buffer.from(got.bytes));
    }
  } finally {
    if (whole) setsockoptInt(fd, SOL.SOCKET, SO.PEEK_OFF, before);
  }
  return { packets };
}

function end(addr: Buffer | undefined, family: number): SockEnd {
  if (!addr || addr.length < 4) return { words: family === AF.INET6 ? [0, 0, 0, 0] : [0], port: 0 };
  const port = addr.readUInt16BE(2);
  if (family === AF.INET) return { words: [addr.readUInt32LE(4)], port };
  return { words: [0, 1, 2, 3].map((i) => addr.readUInt32LE(8 + 4 * i)), port };
}

const ENOPROTOOPT = 92;
const EOPNOTSUPP = 95;

function options(fd: number): SkOptsEntry {
  const int = (name: number) => getsockoptInt(fd, SOL.SOCKET, name);
  /** An option this kernel or this socket family does not have (SO_PASSCRED of inet sockets on 6.x). */
  const maybe = (name: number): number | undefined => {
    try {
      return int(name);
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      if (errno === EOPNOTSUPP || errno === ENOPROTOOPT) return undefined;
      throw e;
    }
  };
  const passcred = maybe(SO.PASSCRED);
  const passsec = maybe(SO.PASSSEC);
  const bufLock = maybe(SO.BUF_LOCK);
  const tmo = (name: number) => {
    const b = getsockoptBytes(fd, SOL.SOCKET, name, 16);
    return [b.readBigUInt64LE(0), b.readBigUInt64LE(8)] as const;
  };
  const [sndSec, sndUsec] = tmo(SO.SNDTIMEO);
  const [rcvSec, rcvUsec] = tmo(SO.RCVTIMEO);
  const linger = getsockoptBytes(fd, SOL.SOCKET, SO.LINGER, 8);
  const dev = getsockoptBytes(fd, SOL.SOCKET, SO.BINDTODEVICE, 16).toString('latin1').replace(/\0.*$/s, '');
  return {
    so_sndbuf: int(SO.SNDBUF),
    so_rcvbuf: int(SO.RCVBUF),
    so_snd_tmo_sec: sndSec,
    so_snd_tmo_usec: sndUsec,
    so_rcv_tmo_sec: rcvSec,
    so_rcv_tmo_usec: rcvUsec,
    reuseaddr: int(SO.REUSEADDR) !== 0,
    so_priority: int(SO.PRIORITY),
    so_rcvlowat: int(SO.RCVLOWAT),
    so_mark: int(SO.MARK),
    ...(passcred !== undefined ? { so_passcred: passcred !== 0 } : {}),
    ...(passsec !== undefined ? { so_passsec: passsec !== 0 } : {}),
    so_dontroute: int(SO.DONTROUTE) !== 0,
    so_no_check: int(SO.NO_CHECK) !== 0,
    ...(dev ? { so_bound_dev: dev } : {}),
    so_reuseport: int(SO.REUSEPORT) !== 0,
    so_broadcast: int(SO.BROADCAST) !== 0,
    so_keepalive: int(SO.KEEPALIVE) !== 0,
    so_oobinline: int(SO.OOBINLINE),
    ...(linger.readInt32LE(0) !== 0 ? { so_linger: linger.readInt32LE(4) } : {}),
    ...(bufLock !== undefined ? { so_buf_lock: bufLock } : {}),
  };
}

function tcpOptions(fd: number): TcpOptsEntry {
  const int = (name: number) => getsockoptInt(fd, SOL.TCP, name);
  return {
    cork: int(TCP_OPT.CORK) !== 0,
    nodelay: int(TCP_OPT.NODELAY) !== 0,
    keepcnt: int(TCP_OPT.KEEPCNT),
    keepidle: int(TCP_OPT.KEEPIDLE),
    keepintvl: int(TCP_OPT.KEEPINTVL),
  };
}

/**
 * What socket descriptor `fd` (inode `ino`) of process `pid` is (the module comment); reads a duplicate,
 * then closes it. `tcpEstablished` (with `peek`): an established TCP connection is read with TCP repair
 * (tcp-stream.ts). `unix`: the namespace's unix sockets (for AF_UNIX ones). `peek`: read all that is queued
 * (only while the process is frozen: the peek offset is the socket's, shared with the process); else only
 * a look at the first packet (peekQueue).
 */
export function socketFacts(
  pid: number,
  targetFd: number,
  ino: number,
  unix: UnixTable,
  peek = true,
  tcpEstablished = false,
): SocketFacts {
  const pidfd = pidfdOpen(pid);
  let fd = -1;
  try {
    fd = pidfdGetfd(pidfd, targetFd);
    const family = getsockoptInt(fd, SOL.SOCKET, SO.DOMAIN);
    const type = getsockoptInt(fd, SOL.SOCKET, SO.TYPE);
    const proto = getsockoptInt(fd, SOL.SOCKET, SO.PROTOCOL);
    const inet = family === AF.INET || family === AF.INET6;
    const filterLength = getsockoptLength(fd, SOL.SOCKET, SO.GET_FILTER);
    if (!inet || (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP)) {
      const none = { words: [], port: 0 };
      const base = { family, type, proto, src: none, dst: none, opts: options(fd), filterLength };
      const diag = family === AF.UNIX ? unix().get(ino) : undefined;
      if (!diag) return { ...base, state: 0, backlog: 0, waiting: 0 };
      const listening = diag.state === TCP_STATE.LISTEN;
      const oneWay = diag.peer !== 0 && unix().get(diag.peer)?.peer !== ino;
      return {
        ...base,
        state: diag.state,
        backlog: listening ? diag.wqueue : 0,
        waiting: diag.waiting.length,
        unix: { diag, oneWay, ...peekQueue(fd, diag, peek) },
      };
    }
    const peer = peerName(fd);
    let state: number = peer ? TCP_STATE.ESTABLISHED : TCP_STATE.CLOSE;
    let backlog = 0;
    let waiting = 0;
    if (proto === IPPROTO_TCP) {
      const info = getsockoptBytes(fd, SOL.TCP, TCP_OPT.INFO, 32);
      state = info.readUInt8(0);
      if (state === TCP_STATE.LISTEN) {
        waiting = info.readUInt32LE(24);
        backlog = info.readUInt32LE(28);
      }
    }
    return {
      family,
      type,
      proto,
      state,
      backlog,
      waiting,
      src: end(sockName(fd), family),
      dst: end(peer, family),
      opts: options(fd),
      ...(proto === IPPROTO_TCP ? { tcpOpts: tcpOptions(fd) } : {}),
      ...(family === AF.INET6 ? { v6only: getsockoptInt(fd, SOL.IPV6, IPV6_V6ONLY) !== 0 } : {}),
      filterLength,
      ...(peek && tcpEstablished && proto === IPPROTO_TCP && state === TCP_STATE.ESTABLISHED
        ? { stream: readTcpStream(fd, `process ${pid} fd ${targetFd}`) }
        : {}),
    };
  } finally {
    if (fd >= 0) closeFd(fd);
    closeFd(pidfd);
  }
}

const FAMILY_NAMES: Record<number, string> = { 1: 'a unix', 16: 'a netlink', 17: 'a packet' };

const SOCK_SEQPACKET = 5;

/** What a dump takes besides what it always does. */
export interface SocketChoices {
  /** The socket inodes the dumped tree holds (a unix socket's peer must be one of them). */
  readonly tree?: ReadonlySet<number>;
  /** Established TCP connections are dumped (CRIU's --tcp-established). */
  readonly tcpEstablished?: boolean;
}

/** Why a socket with these facts cannot be dumped, or undefined when it can. */
export function socketRefusal(s: SocketFacts, c: SocketChoices = {}): string | undefined {
  if (s.unix) return unixRefusal(s.unix, c.tree ?? new Set());
  const inet = s.family === AF.INET || s.family === AF.INET6;
  if (!inet) return `${FAMILY_NAMES[s.family] ?? `a family ${s.family}`} socket (not dumped yet)`;
  if (s.proto === IPPROTO_TCP && s.type === SOCK_STREAM) {
    if (s.state === TCP_STATE.ESTABLISHED && !c.tcpEstablished)
      return 'a TCP connection (ESTABLISHED; dump it with --tcp-established)';
    if (s.state !== TCP_STATE.LISTEN && s.state !== TCP_STATE.CLOSE && s.state !== TCP_STATE.ESTABLISHED)
      return `a TCP connection (${TCP_STATE_NAMES[s.state] ?? s.state}; not dumped yet)`;
    if (s.waiting > 0) return `a listening socket with ${s.waiting} connection(s) waiting to be accepted`;
  } else if (!(s.proto === IPPROTO_UDP && s.type === SOCK_DGRAM)) {
    return `a raw or other IP socket (protocol ${s.proto})`;
  }
  if (s.filterLength > 0) return 'a socket with a BPF filter attached';
  return undefined;
}

/** The unix part of socketRefusal. */
function unixRefusal(u: UnixFacts, tree: ReadonlySet<number>): string | undefined {
  const d = u.diag;
  if (![SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET].includes(d.type)) return `a unix socket of type ${d.type}`;
  if (d.waiting.length > 0)
    return `a listening unix socket with ${d.waiting.length} connection(s) waiting to be accepted`;
  if (d.peer !== 0 && !tree.has(d.peer))
    return `a unix socket connected to one outside the dumped tree (socket:[${d.peer}]; not dumped yet)`;
  if (u.oneWay) return `a unix socket connected one way to socket:[${d.peer}] (not dumped yet)`;
  if (u.unreadable) return u.unreadable;
  if (d.peer === 0 && u.packets.length > 0)
    return 'a unix socket with packets queued and no peer (not dumped yet)';
  const name = unixNamePath(d.name);
  if (name !== undefined) {
    if (!name.startsWith('/')) return `a unix socket bound to a relative path (${name})`;
    if (!isSocketFile(name)) return `a unix socket bound to ${name}, which is no longer a socket file there`;
  }
  return undefined;
}

function isSocketFile(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

/** The inodes of every socket the processes `pids` hold (a descriptor that goes meanwhile is skipped). */
export function treeSocketInodes(pids: readonly number[]): Set<number> {
  const out = new Set<number>();
  for (const pid of pids) {
    let names: string[] = [];
    try {
      names = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const n of names) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${n}`));
        if (m) out.add(Number(m[1]));
      } catch {}
    }
  }
  return out;
}

/** A UnixTable that dumps the namespace's unix sockets once, on first use. */
export function lazyUnixTable(): UnixTable {
  let table: ReadonlyMap<number, UnixDiag> | undefined;
  return () => {
    table ??= unixSockets();
    return table;
  };
}
