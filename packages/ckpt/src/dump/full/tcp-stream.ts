/**
 * An established TCP connection, read with TCP repair (CRIU's --tcp-established, its libsoccr's steps)
 * from ckpt's duplicate of the frozen target's socket:
 *
 * ```
 * TCP_REPAIR on -> TCP_INFO (ESTABLISHED, options, window scales) -> SIOCOUTQ / SIOCOUTQNSD / SIOCINQ
 *   -> TCP_MAXSEG, TCP_TIMESTAMP, TCP_REPAIR_WINDOW
 *   -> TCP_REPAIR_QUEUE recv: TCP_QUEUE_SEQ (rcv_nxt), MSG_PEEK of the unread bytes
 *   -> TCP_REPAIR_QUEUE send: TCP_QUEUE_SEQ (write_seq), MSG_PEEK of the unacked and unsent bytes
 * -> TCP_REPAIR off without a window probe (the connection itself untouched)
 * ```
 * Repair mode is on only while one socket is read (microseconds). A tree killed after its dump has every
 * such socket put back into repair mode first (silenceConnections): a socket closed in repair mode goes
 * without a FIN or a reset, so the peer keeps the connection for the restore. Between the kill and the
 * restore nothing holds the connection here: a segment the peer sends meanwhile is answered by a reset
 * (CRIU locks the network with iptables for that window; ckpt does not yet).
 *
 * @example
 * const s = readTcpStream(fd);  // { inqSeq, inq: Buffer, outqSeq, outq: Buffer, unsqLen, mssClamp, ... }
 */
import {
  closeFd,
  getsockoptBytes,
  getsockoptInt,
  ioctlIntOut,
  pidfdGetfd,
  pidfdOpen,
  recvPeek,
  SIOC,
  SO,
  SOL,
  setsockoptInt,
  TCP_OPT,
  TCP_REPAIR,
} from '../../sys/index.js';
import { DumpError } from '../errors.js';

const TCPI_OPT_TIMESTAMPS = 1;
const TCP_ESTABLISHED = 1;

export interface TcpWindow {
  readonly sndWl1: number;
  readonly sndWnd: number;
  readonly maxWindow: number;
  readonly rcvWnd: number;
  readonly rcvWup: number;
}

/** tcp_stream_entry's facts and the two queues' bytes. */
export interface TcpStream {
  readonly inqSeq: number;
  readonly inq: Buffer;
  readonly outqSeq: number;
  readonly outq: Buffer;
  /** The tail of `outq` never sent. */
  readonly unsqLen: number;
  /** TCPI_OPT_* bits the connection negotiated. */
  readonly optMask: number;
  readonly sndWscale: number;
  readonly rcvWscale: number;
  readonly mssClamp: number;
  readonly timestamp: number;
  readonly window?: TcpWindow;
}

function queue(fd: number, which: number, len: number, what: string): { seq: number; bytes: Buffer } {
  setsockoptInt(fd, SOL.TCP, TCP_OPT.REPAIR_QUEUE, which);
  const seq = getsockoptInt(fd, SOL.TCP, TCP_OPT.QUEUE_SEQ) >>> 0;
  if (len === 0) return { seq, bytes: Buffer.alloc(0) };
  const got = recvPeek(fd, len + 1);
  if (!got || got.bytes.length !== len)
    throw new DumpError('EIO', `${what}: ${got?.bytes.length ?? 0} of ${len} queued bytes read`);
  return { seq, bytes: Buffer.from(got.bytes) };
}

/** The connection behind `fd` (ckpt's duplicate of a frozen target's socket): see the module comment. */
export function readTcpStream(fd: number, what: string): TcpStream {
  const reuse = getsockoptInt(fd, SOL.SOCKET, SO.REUSEADDR); // leaving repair mode clears it
  setsockoptInt(fd, SOL.TCP, TCP_OPT.REPAIR, TCP_REPAIR.ON);
  try {
    const info = getsockoptBytes(fd, SOL.TCP, TCP_OPT.INFO, 8);
    if (info.readUInt8(0) !== TCP_ESTABLISHED)
      throw new DumpError('ENOTSUP', `${what}: the connection left ESTABLISHED while frozen`);
    const outqLen = ioctlIntOut(fd, SIOC.OUTQ);
    const unsqLen = ioctlIntOut(fd, SIOC.OUTQNSD);
    const inqLen = ioctlIntOut(fd, SIOC.INQ);
    const optMask = info.readUInt8(5);
    const w = getsockoptBytes(fd, SOL.TCP, TCP_OPT.REPAIR_WINDOW, 20);
    const inq = queue(fd, TCP_REPAIR.RECV_QUEUE, inqLen, `${what} (receive queue)`);
    const outq = queue(fd, TCP_REPAIR.SEND_QUEUE, outqLen, `${what} (send queue)`);
    setsockoptInt(fd, SOL.TCP, TCP_OPT.REPAIR_QUEUE, TCP_REPAIR.NO_QUEUE);
    return {
      inqSeq: inq.seq,
      inq: inq.bytes,
      outqSeq: outq.seq,
      outq: outq.bytes,
      unsqLen,
      optMask,
      sndWscale: info.readUInt8(6) & 0xf,
      rcvWscale: info.readUInt8(6) >> 4,
      mssClamp: getsockoptInt(fd, SOL.TCP, TCP_OPT.MAXSEG),
      timestamp: optMask & TCPI_OPT_TIMESTAMPS ? getsockoptInt(fd, SOL.TCP, TCP_OPT.TIMESTAMP) >>> 0 : 0,
      ...(w.length === 20
        ? {
            window: {
              sndWl1: w.readUInt32LE(0),
              sndWnd: w.readUInt32LE(4),
              maxWindow: w.readUInt32LE(8),
              rcvWnd: w.readUInt32LE(12),
              rcvWup: w.readUInt32LE(16),
            },
          }
        : {}),
    };
  } finally {
    setsockoptInt(fd, SOL.TCP, TCP_OPT.REPAIR, TCP_REPAIR.OFF_NO_WP);
    setsockoptInt(fd, SOL.SOCKET, SO.REUSEADDR, reuse);
  }
}

/**
 * Right before a dumped tree is killed: every established connection it holds back in repair mode, so
 * that the kill closes it without a FIN or a reset. `sockets`: [pid, fd] of each.
 */
export function silenceConnections(sockets: readonly (readonly [number, number])[]): void {
  for (const [pid, targetFd] of sockets) {
    const pidfd = pidfdOpen(pid);
    try {
      const fd = pidfdGetfd(pidfd, targetFd);
      try {
        setsockoptInt(fd, SOL.TCP, TCP_OPT.REPAIR, TCP_REPAIR.ON);
      } finally {
        closeFd(fd);
      }
    } finally {
      closeFd(pidfd);
    }
  }
}
