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
 * Refused, one line each: unix, netlink, packet and raw sockets; TCP connections (established or on
 * their way: they need TCP repair); a listener with connections waiting to be accepted (they would be
 * lost); a socket with a BPF filter attached.
 *
 * @example
 * const s = socketFacts(pid, 5);  // { family: 2, type: 1, state: 10, backlog: 511, src: { port: 8080, ... } }
 * socketRefusal(s);               // undefined: it can be dumped
 */

import type { SkOptsEntry, TcpOptsEntry } from '../../images/index.js';
import {
  AF,
  closeFd,
  getsockoptBytes,
  getsockoptInt,
  getsockoptLength,
  IPV6_V6ONLY,
  peerName,
  pidfdGetfd,
  pidfdOpen,
  SO,
  SOL,
  sockName,
  TCP_OPT,
} from '../../sys/index.js';

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

/** What socket descriptor `fd` of process `pid` is (the module comment); reads a duplicate, then closes it. */
export function socketFacts(pid: number, targetFd: number): SocketFacts {
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
      return {
        family,
        type,
        proto,
        state: 0,
        backlog: 0,
        waiting: 0,
        src: none,
        dst: none,
        opts: options(fd),
        filterLength,
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
    };
  } finally {
    if (fd >= 0) closeFd(fd);
    closeFd(pidfd);
  }
}

const FAMILY_NAMES: Record<number, string> = { 1: 'a unix', 16: 'a netlink', 17: 'a packet' };

/** Why a socket with these facts cannot be dumped, or undefined when it can. */
export function socketRefusal(s: SocketFacts): string | undefined {
  const inet = s.family === AF.INET || s.family === AF.INET6;
  if (!inet) return `${FAMILY_NAMES[s.family] ?? `a family ${s.family}`} socket (not dumped yet)`;
  if (s.proto === IPPROTO_TCP && s.type === SOCK_STREAM) {
    if (s.state !== TCP_STATE.LISTEN && s.state !== TCP_STATE.CLOSE)
      return `a TCP connection (${TCP_STATE_NAMES[s.state] ?? s.state}; it needs TCP repair, not done yet)`;
    if (s.waiting > 0) return `a listening socket with ${s.waiting} connection(s) waiting to be accepted`;
  } else if (!(s.proto === IPPROTO_UDP && s.type === SOCK_DGRAM)) {
    return `a raw or other IP socket (protocol ${s.proto})`;
  }
  if (s.filterLength > 0) return 'a socket with a BPF filter attached';
  return undefined;
}
