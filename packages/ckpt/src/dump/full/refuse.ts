/**
 * What a full dump cannot bring back yet, found from /proc before anything is frozen or written: one line
 * per problem naming the process, the fd or mapping and the kind. An empty list means go.
 *
 * ```
 * process   traced by someone else, stopped (group stop), a zombie root (zombie children are dumped:
 *           zombies.ts), seccomp, namespaces other than ours
 * fds       terminals without --shell-job, sockets but TCP listeners and unconnected sockets and UDP
 *           (sockets.ts), anon inodes but eventfds, epolls, timerfds and signalfds (inotify,
 *           userfaultfd, io_uring, pidfd), a semaphore eventfd, an epoll watching a descriptor
 *           since closed (event-fds.ts), deleted files, FIFOs, character devices other than /dev/null
 *           /dev/zero /dev/urandom /dev/random
 * mappings  anonymous shared memory, hugetlb, deleted or memfd files, SysV shm, AIO rings, io_uring
 * ```
 *
 * @example
 * const problems = findRefusals(pid);
 * if (problems.length > 0) throw new DumpError('EUNSUPPORTED', problems.join('\n'));
 */
import { readlinkSync } from 'node:fs';
import { type FdInfo, readFds, readMaps, readStatus, readTaskCreds } from '../../proc/index.js';
import {
  EVENTFD_TARGET,
  EVENTPOLL_TARGET,
  eventFdRefusal,
  SIGNALFD_TARGET,
  TIMERFD_TARGET,
} from './event-fds.js';
import {
  lazyUnixTable,
  type SocketChoices,
  type SocketFacts,
  socketFacts,
  socketRefusal,
  treeSocketInodes,
} from './sockets.js';
import { isPtySlave } from './tty.js';

const NAMESPACES = ['ipc', 'mnt', 'net', 'pid', 'user', 'uts', 'cgroup', 'time'] as const;
const EBADF = 9;
const S_IFMT = 0o170000;
const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;
const S_IFSOCK = 0o140000;
const PLAIN_DEVICES = new Set(['/dev/null', '/dev/zero', '/dev/urandom', '/dev/random']);

/**
 * Why descriptor `fd` cannot be dumped, or undefined when it can. `shellJob`: a pty slave (the terminal of
 * a job started from a shell) is dumped as CRIU's --shell-job does (tty.ts). `socket`: what a socket is
 * (sockets.ts); a socket without it is refused.
 */
export function fdRefusal(
  fd: FdInfo,
  shellJob = false,
  socket?: SocketFacts,
  choices: SocketChoices = {},
): string | undefined {
  if (isPtySlave(fd)) return shellJob ? undefined : 'a terminal (a shell job? dump it with --shell-job)';
  if (fd.kind === 'socket' || (fd.mode & S_IFMT) === S_IFSOCK)
    return socket ? socketRefusal(socket, choices) : 'a socket';
  if ([EVENTFD_TARGET, EVENTPOLL_TARGET, TIMERFD_TARGET, SIGNALFD_TARGET].includes(fd.target))
    return undefined; // eventFdRefusal
  if (fd.kind === 'anon') return `${fd.target.slice('anon_inode:'.length)} (anonymous inode)`;
  if (fd.kind === 'pipe') return undefined;
  if (fd.path.startsWith('/memfd:')) return 'a memfd'; // before 'deleted': /proc says both
  if (fd.deleted) return 'a deleted file';
  if ((fd.mode & S_IFMT) === S_IFIFO) return 'a FIFO';
  if ((fd.mode & S_IFMT) === S_IFCHR && !PLAIN_DEVICES.has(fd.path)) return `a character device (${fd.path})`;
  return undefined;
}

/** Why the mapping with this maps path / sharing cannot be dumped, or undefined. */
export function mappingRefusal(path: string, isPrivate: boolean, inode: number): string | undefined {
  if (path.startsWith('/SYSV')) return 'SysV shared memory';
  if (path.startsWith('/memfd:')) return 'a memfd mapping';
  if (path.startsWith('/anon_hugepage')) return 'hugetlb memory';
  if (path.startsWith('/[aio]') || path === '[aio]') return 'an AIO ring';
  if (path.startsWith('anon_inode:')) return `${path.slice('anon_inode:'.length)} mapping`;
  if (!isPrivate && (inode === 0 || path === '' || path.startsWith('/dev/zero'))) {
    return 'anonymous shared memory';
  }
  if (path.endsWith(' (deleted)')) return 'a deleted file';
  return undefined;
}

/**
 * Every reason process `pid` cannot be fully dumped, each on one line. `tracer`: the pid allowed as its
 * tracer (ours while frozen). `ours`: descriptors the dump closes itself (ckpt's tracking userfaultfds).
 * `shellJob`: terminals are dumped (--shell-job), not refused. `tree`: every process of the dump (a unix
 * socket's peer must be held by one of them). `tcpEstablished`: established TCP connections are dumped.
 */
export function findRefusals(
  pid: number,
  tracer = 0,
  ours: ReadonlySet<number> = new Set(),
  shellJob = false,
  tree: readonly number[] = [pid],
  tcpEstablished = false,
): string[] {
  const out: string[] = [];
  const who = `process ${pid}`;
  const st = readStatus(pid);
  if (st.tracerPid !== 0 && st.tracerPid !== tracer) out.push(`${who}: traced by process ${st.tracerPid}`);
  if (st.state === 'T') out.push(`${who}: stopped (job control)`);
  if (st.state === 'Z') {
    // a zombie child is dumped as one (zombies.ts); a zombie root has nothing left to dump
    if (pid === tree[0]) out.push(`${who}: a zombie (it exited; its parent has not reaped it)`);
    return out;
  }
  const creds = readTaskCreds(pid);
  if (creds.seccomp !== 0) out.push(`${who}: seccomp mode ${creds.seccomp}`);
  for (const ns of NAMESPACES) {
    let theirs: string;
    let ours: string;
    try {
      theirs = readlinkSync(`/proc/${pid}/ns/${ns}`);
      ours = readlinkSync(`/proc/self/ns/${ns}`);
    } catch {
      continue; // the kernel lacks this namespace kind
    }
    if (theirs !== ours) out.push(`${who}: ${ns} namespace ${theirs} differs from ours (${ours})`);
  }
  const fds = readFds(pid);
  const unix = lazyUnixTable();
  let treeSockets: ReadonlySet<number> | undefined;
  for (const fd of fds) {
    if (ours.has(fd.fd) && fd.target === 'anon_inode:[userfaultfd]') continue;
    let socket: SocketFacts | undefined;
    if (fd.kind === 'socket') {
      try {
        socket = socketFacts(pid, fd.fd, fd.inode, unix, tracer !== 0); // whole queues only when frozen
        if (socket.unix) treeSockets ??= treeSocketInodes(tree);
      } catch (e) {
        if ((e as { errno?: number }).errno === EBADF) continue; // closed meanwhile
        out.push(`${who} fd ${fd.fd}: a socket that cannot be read (${(e as Error).message})`);
        continue;
      }
    }
    const why =
      fdRefusal(fd, shellJob, socket, { tree: treeSockets, tcpEstablished }) ?? eventFdRefusal(fd, fds);
    if (why) out.push(`${who} fd ${fd.fd}: ${why}: ${fd.target}`);
  }
  for (const v of readMaps(pid)) {
    const why = mappingRefusal(v.path, v.private, v.inode);
    if (why) out.push(`${who} mapping ${v.start.toString(16)}-${v.end.toString(16)} ${v.path}: ${why}`);
  }
  return out;
}
