/**
 * Every unix socket of ckpt's network namespace as sock_diag tells it (NETLINK_SOCK_DIAG, UNIX_DIAG):
 * what /proc cannot say about a unix socket, namely its peer, its backlog, what waits in its queues.
 *
 * ```
 * socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG)
 * -> nlmsghdr{SOCK_DIAG_BY_FAMILY, REQUEST|DUMP} unix_diag_req{AF_UNIX, all states, NAME|PEER|ICONS|RQLEN|SHUTDOWN}
 * <- unix_diag_msg{type, state, ino} + attributes, per socket ... NLMSG_DONE
 * ```
 *
 * @example
 * const all = unixSockets();           // Map inode -> UnixDiag
 * all.get(3418432)?.peer;              // the inode of the other end of a socketpair
 */
import { SysError } from './errors.js';
import { addressOf, closeFd, syscall } from './syscalls.js';

const SYS_SOCKET = 41;
const SYS_SENDTO = 44;
const SYS_RECVFROM = 45;
const AF_NETLINK = 16;
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_SOCK_DIAG = 4;
const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 1;
const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const UDIAG_SHOW = { NAME: 1, PEER: 4, ICONS: 8, RQLEN: 0x10 } as const;
const UNIX_DIAG = { NAME: 0, PEER: 2, ICONS: 3, RQLEN: 4, SHUTDOWN: 6 } as const;

/** One unix socket. */
export interface UnixDiag {
  readonly ino: number;
  /** SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5. */
  readonly type: number;
  /** TCP_ESTABLISHED 1 (connected), TCP_CLOSE 7, TCP_LISTEN 10. */
  readonly state: number;
  /** The bound name: a path, or an abstract name starting with NUL; undefined when unbound. */
  readonly name?: Buffer;
  /** Inode of the peer (0: none). */
  readonly peer: number;
  /** Inodes of the connections waiting to be accepted (listeners). */
  readonly waiting: readonly number[];
  /** Listener: connections queued; other sockets: bytes (stream) or the queue's size, as the kernel counts. */
  readonly rqueue: number;
  /** Listener: its backlog; other sockets: bytes sent not yet read by the peer. */
  readonly wqueue: number;
  /** SHUT_RD 1 | SHUT_WR 2 of this end. */
  readonly shutdown: number;
}

function request(): Buffer {
  const b = Buffer.alloc(16 + 24);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4);
  b.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
  b.writeUInt32LE(1, 8); // seq
  b.writeUInt8(AF_UNIX, 16);
  b.writeUInt32LE(0xffffffff, 20); // every state
  b.writeUInt32LE(UDIAG_SHOW.NAME | UDIAG_SHOW.PEER | UDIAG_SHOW.ICONS | UDIAG_SHOW.RQLEN, 28);
  return b;
}

function parse(msg: Buffer): UnixDiag {
  let name: Buffer | undefined;
  let peer = 0;
  let waiting: number[] = [];
  let rqueue = 0;
  let wqueue = 0;
  let shutdown = 0;
  for (let at = 16; at + 4 <= msg.length; ) {
    const len = msg.readUInt16LE(at);
    const type = msg.readUInt16LE(at + 2);
    if (len < 4) break;
    const data = msg.subarray(at + 4, at + len);
    if (type === UNIX_DIAG.NAME) name = Buffer.from(data);
    else if (type === UNIX_DIAG.PEER) peer = data.readUInt32LE(0);
    else if (type === UNIX_DIAG.ICONS) waiting = [...new Uint32Array(Uint8Array.from(data).buffer)];
    else if (type === UNIX_DIAG.RQLEN) [rqueue, wqueue] = [data.readUInt32LE(0), data.readUInt32LE(4)];
    else if (type === UNIX_DIAG.SHUTDOWN) shutdown = data.readUInt8(0);
    at += (len + 3) & ~3;
  }
  return {
    ino: msg.readUInt32LE(4),
    type: msg.readUInt8(1),
    state: msg.readUInt8(2),
    ...(name ? { name } : {}),
    peer,
    waiting,
    rqueue,
    wqueue,
    shutdown,
  };
}

/** Every unix socket of ckpt's network namespace, by inode. Throws SysError when sock_diag is missing. */
export function unixSockets(): Map<number, UnixDiag> {
  const fd = syscall(SYS_SOCKET, AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  const out = new Map<number, UnixDiag>();
  try {
    const req = request();
    const kernel = Buffer.alloc(12);
    kernel.writeUInt16LE(AF_NETLINK, 0);
    syscall(SYS_SENDTO, fd, addressOf(req), req.length, 0, addressOf(kernel), kernel.length);
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = syscall(SYS_RECVFROM, fd, addressOf(buf), buf.length, 0, 0, 0);
      for (let at = 0; at + 16 <= n; ) {
        const len = buf.readUInt32LE(at);
        const type = buf.readUInt16LE(at + 4);
        if (type === NLMSG_DONE) return out;
        if (type === NLMSG_ERROR) throw new SysError('sock_diag', -buf.readInt32LE(at + 16), 'unix sockets');
        const d = parse(buf.subarray(at + 16, at + len));
        out.set(d.ino, d);
        at += (len + 3) & ~3;
      }
      if (n === 0) return out;
    }
  } finally {
    closeFd(fd);
  }
}
