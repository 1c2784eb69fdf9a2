/**
 * Reading a socket that ckpt holds a duplicate of (pidfd_getfd): its options, its own and its peer's
 * address and, for TCP, its state. The full dump describes a target's sockets so, injecting nothing.
 *
 * @example
 * const fd = pidfdGetfd(pidfd, 5);
 * getsockoptInt(fd, SOL.SOCKET, SO.ACCEPTCONN); // 1: listening
 * sockName(fd);                                 // the sockaddr bytes (family first)
 * closeFd(fd);
 */
import { SysError } from './errors.js';
import { addressOf, ioctl, syscall } from './syscalls.js';

const SYS_GETSOCKNAME = 51;
const SYS_GETPEERNAME = 52;
const SYS_SETSOCKOPT = 54;
const SYS_GETSOCKOPT = 55;
const SYS_RECVMSG = 47;
const ENOTCONN = 107;
const EAGAIN = 11;
const MSG_PEEK = 2;
const MSG_DONTWAIT = 0x40;
/** recvmsg's msg_flags: control data did not fit (descriptors or credentials in flight), a datagram was cut. */
export const MSG_FLAG = { TRUNC: 0x20, CTRUNC: 0x8 } as const;

/** Option levels. */
export const SOL = { IP: 0, SOCKET: 1, TCP: 6, IPV6: 41 } as const;
/** SOL_SOCKET options (x86-64). */
export const SO = {
  REUSEADDR: 2,
  TYPE: 3,
  DONTROUTE: 5,
  BROADCAST: 6,
  SNDBUF: 7,
  RCVBUF: 8,
  KEEPALIVE: 9,
  OOBINLINE: 10,
  NO_CHECK: 11,
  PRIORITY: 12,
  LINGER: 13,
  REUSEPORT: 15,
  PASSCRED: 16,
  RCVLOWAT: 18,
  RCVTIMEO: 20,
  SNDTIMEO: 21,
  BINDTODEVICE: 25,
  GET_FILTER: 26,
  ACCEPTCONN: 30,
  PEEK_OFF: 42,
  PASSSEC: 34,
  MARK: 36,
  PROTOCOL: 38,
  DOMAIN: 39,
  BUF_LOCK: 72,
  SNDBUFFORCE: 32,
  RCVBUFFORCE: 33,
} as const;
/** SOL_TCP options. */
export const TCP_OPT = {
  NODELAY: 1,
  MAXSEG: 2,
  CORK: 3,
  KEEPIDLE: 4,
  KEEPINTVL: 5,
  KEEPCNT: 6,
  INFO: 11,
  REPAIR: 19,
  REPAIR_QUEUE: 20,
  QUEUE_SEQ: 21,
  REPAIR_OPTIONS: 22,
  TIMESTAMP: 24,
  REPAIR_WINDOW: 29,
} as const;
/** TCP_REPAIR values and TCP_REPAIR_QUEUE's queues. */
export const TCP_REPAIR = {
  ON: 1,
  OFF: 0,
  OFF_NO_WP: -1,
  NO_QUEUE: 0,
  RECV_QUEUE: 1,
  SEND_QUEUE: 2,
} as const;
/** ioctls of a TCP socket: bytes in the receive queue, in the send queue (unacked + unsent), unsent. */
export const SIOC = { INQ: 0x541b, OUTQ: 0x5411, OUTQNSD: 0x894b } as const;
/** IPPROTO_IPV6 IPV6_V6ONLY. */
export const IPV6_V6ONLY = 26;
/** Address families. */
export const AF = { UNIX: 1, INET: 2, INET6: 10 } as const;

/** getsockopt(2) into `size` bytes; returns the bytes the kernel filled. */
export function getsockoptBytes(fd: number, level: number, name: number, size: number): Buffer {
  const buf = Buffer.alloc(size);
  const len = new Uint32Array([size]);
  syscall(SYS_GETSOCKOPT, fd, level, name, addressOf(buf), addressOf(len));
  return buf.subarray(0, len[0]);
}

/** The option length getsockopt(2) reports for a zero-byte buffer (SO_GET_FILTER: the filter's instructions). */
export function getsockoptLength(fd: number, level: number, name: number): number {
  const len = new Uint32Array([0]);
  syscall(SYS_GETSOCKOPT, fd, level, name, 0, addressOf(len));
  return len[0]!;
}

/** setsockopt(2) of an int option. */
export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  const v = new Int32Array([value]);
  syscall(SYS_SETSOCKOPT, fd, level, name, addressOf(new Uint8Array(v.buffer)), 4);
}

/**
 * One recvmsg(2) with MSG_PEEK | MSG_DONTWAIT and no room for control data: the bytes (undefined when
 * nothing is queued) and msg_flags (MSG_FLAG.CTRUNC: there was control data; TRUNC: a datagram was cut).
 */
export function recvPeek(fd: number, size: number): { bytes: Buffer; flags: number } | undefined {
  const buf = Buffer.alloc(size);
  const iov = new BigUint64Array([BigInt(addressOf(buf)), BigInt(size)]);
  const msg = new BigUint64Array(7); // struct msghdr: name, namelen, iov, iovlen, control, controllen, flags
  msg[2] = BigInt(addressOf(new Uint8Array(iov.buffer)));
  msg[3] = 1n;
  let n: number;
  try {
    n = syscall(SYS_RECVMSG, fd, addressOf(new Uint8Array(msg.buffer)), MSG_PEEK | MSG_DONTWAIT);
  } catch (e) {
    if (e instanceof SysError && e.errno === EAGAIN) return undefined;
    throw e;
  }
  return { bytes: buf.subarray(0, n), flags: Number(msg[6]! & 0xffffffffn) };
}

/** An ioctl(2) that answers one int (SIOC.INQ, ...). */
export function ioctlIntOut(fd: number, req: number): number {
  const v = new Int32Array(1);
  ioctl(fd, req, new Uint8Array(v.buffer));
  return v[0]!;
}

/** setsockopt(2) with a struct argument. */
export function setsockoptBytes(fd: number, level: number, name: number, value: Uint8Array): void {
  syscall(SYS_SETSOCKOPT, fd, level, name, addressOf(value), value.length);
}

/** getsockopt(2) of an int option. */
export function getsockoptInt(fd: number, level: number, name: number): number {
  return getsockoptBytes(fd, level, name, 4).readInt32LE(0);
}

function sockaddr(nr: number, fd: number): Buffer | undefined {
  const buf = Buffer.alloc(128);
  const len = new Uint32Array([128]);
  try {
    syscall(nr, fd, addressOf(buf), addressOf(len));
  } catch (e) {
    if (e instanceof SysError && e.errno === ENOTCONN) return undefined;
    throw e;
  }
  return buf.subarray(0, Math.min(len[0]!, 128));
}

/** getsockname(2): the socket's own address (sockaddr bytes). */
export function sockName(fd: number): Buffer {
  return sockaddr(SYS_GETSOCKNAME, fd)!;
}

/** getpeername(2): the peer's address, or undefined when not connected. */
export function peerName(fd: number): Buffer | undefined {
  return sockaddr(SYS_GETPEERNAME, fd);
}
