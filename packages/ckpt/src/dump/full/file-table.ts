/**
 * The files.img entries of one dump: every regular file (mapped, open, exe, cwd, root) and every pipe gets
 * one id, shared by whoever refers to it:
 *
 * ```
 * mapped files, exe        one REG entry per file (dev, ino), O_RDONLY, pos 0  <- vma_entry.shmid, mm.exe_file_id
 * open descriptors         one entry per open file description, across the processes of the tree (kcmp:
 *                          fd 1 and 2 after 2>&1, or a parent's and a child's inherited fds, share it)
 * cwd, root                one REG entry each (directories)                  <- fs_entry
 * pipes                    one PIPE entry per description, pipe_id = inode   <- fdinfo_entry.id
 * terminals (--shell-job)  a REG entry of the path, then a TTY entry naming it (regf_id) and its
 *                          tty_info (index << 1)                              <- fdinfo_entry.id
 * sockets                  one INETSK entry per description: family, type, state, addresses, backlog,
 *                          options (sockets.ts); one UNIXSK entry per unix socket: type, state, peer
 *                          (inode), name, backlog, shutdown, the socket file's perms; its queued
 *                          packets (sk-queues.img, by entry id)
 * timerfds, signalfds      one TIMERFD entry {clockid, ticks, time left, interval} / SIGNALFD {sigmask}
 * eventfds                 one EVENTFD entry per description {flags, counter} (event-fds.ts)
 * epoll instances          one EVENTPOLL entry per description, with every watched file (tfd, events,
 *                          data, dev, inode, pos) as the first process holding it sees them
 * ```
 * Ids start at 1 and follow the order of registration, as CRIU's.
 *
 * @example
 * const files = new FileTable();
 * const exeId = files.regFile({ path: '/bin/cat', flags: 0, pos: 0, mode: 0o100755, size: 1234 });
 * files.entries; // [{ type: REG, id: 1, reg: { ... } }]
 */
import { lstatSync } from 'node:fs';
import { FD_TYPE, type FileEntry, type FownEntry, unixNamePath } from '../../images/index.js';
import type { FdInfo } from '../../proc/index.js';
import { sameOpenFile } from '../../sys/index.js';
import {
  EVENTFD_TARGET,
  EVENTPOLL_TARGET,
  epollTargets,
  eventfdFacts,
  SIGNALFD_TARGET,
  signalfdMask,
  TIMERFD_TARGET,
  timerfdFacts,
} from './event-fds.js';
import type { SocketFacts } from './sockets.js';
import type { TcpStream } from './tcp-stream.js';

/** O_WRONLY|O_APPEND: a log whose size CRIU does not check. */
const appendOnly = (flags: number) => (flags & O_ACCMODE) === O_WRONLY && (flags & O_APPEND) !== 0;

/**
 * What a REG entry needs. `size` is written for regular files only (CRIU checks it on restore), and not
 * for a file open O_WRONLY|O_APPEND (a log: it grows after a --leave-running dump; CRIU's should_check_size).
 */
export interface RegFileFacts {
  readonly path: string;
  readonly flags: number;
  readonly pos: number;
  readonly mode: number;
  readonly size: number;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_APPEND = 0o2000;
const NO_FOWN: FownEntry = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };

export class FileTable {
  private readonly list: FileEntry[] = [];
  private readonly byKey = new Map<string, number>();
  private readonly opened: { pid: number; fd: number; target: string; id: number }[] = [];
  private readonly queues: { id: number; packets: readonly Buffer[] }[] = [];
  private readonly connections: { ino: number; stream: TcpStream }[] = [];
  private static readonly O_CLOEXEC = 0o2000000;

  /** The entries registered so far, in id order. */
  get entries(): readonly FileEntry[] {
    return this.list;
  }

  /** The id for `key` (e.g. `map:dev:ino`), registering a REG entry the first time. */
  regFile(f: RegFileFacts, key?: string): number {
    if (key !== undefined) {
      const id = this.byKey.get(key);
      if (id !== undefined) return id;
    }
    const id = this.list.length + 1;
    this.list.push({
      type: FD_TYPE.REG,
      id,
      reg: {
        id,
        flags: f.flags,
        pos: BigInt(f.pos),
        fown: NO_FOWN,
        name: f.path,
        ...((f.mode & S_IFMT) === S_IFREG && !appendOnly(f.flags) ? { size: BigInt(f.size) } : {}),
        mode: f.mode,
      },
    });
    if (key !== undefined) this.byKey.set(key, id);
    return id;
  }

  /**
   * The id of the open file description behind descriptor `fd` of process `pid`: the one registered for
   * an earlier descriptor of the same description (any process), or a new REG / PIPE entry.
   */
  openFile(pid: number, fd: FdInfo, tty?: { readonly id: number }, socket?: SocketFacts): number {
    const same = this.opened.find((o) => o.target === fd.target && sameOpenFile(o.pid, o.fd, pid, fd.fd));
    let id: number;
    if (same) id = same.id;
    else {
      const flags = fd.flags & ~FileTable.O_CLOEXEC;
      if (tty) id = this.tty(tty.id, { path: fd.path, flags, pos: 0, mode: fd.mode, size: 0 });
      else if (fd.kind === 'pipe') id = this.pipe(fd.inode, flags);
      else if (socket?.unix) id = this.unixSocket(fd, socket, flags);
      else if (socket) id = this.inetSocket(fd, socket, flags);
      else if (fd.target === EVENTFD_TARGET) id = this.eventfd(fd, flags);
      else if (fd.target === EVENTPOLL_TARGET) id = this.eventpoll(fd, flags);
      else if (fd.target === TIMERFD_TARGET) id = this.timerfd(fd, flags);
      else if (fd.target === SIGNALFD_TARGET) id = this.signalfd(fd, flags);
      else id = this.regFile({ path: fd.path, flags, pos: fd.pos, mode: fd.mode, size: fd.size });
    }
    this.opened.push({ pid, fd: fd.fd, target: fd.target, id });
    return id;
  }

  /** A TTY entry for terminal `ttyInfoId` opened at `f.path` (CRIU's regf_id: the REG entry of the path). */
  tty(ttyInfoId: number, f: RegFileFacts): number {
    const regfId = this.regFile(f);
    const id = this.list.length + 1;
    this.list.push({
      type: FD_TYPE.TTY,
      id,
      tty: { id, tty_info_id: ttyInfoId, flags: f.flags, fown: NO_FOWN, regf_id: regfId },
    });
    return id;
  }

  /** The packets queued for each unix socket entry that has any (sk-queues.img), in id order. */
  get queued(): readonly { readonly id: number; readonly packets: readonly Buffer[] }[] {
    return this.queues;
  }

  /** Established TCP connections (tcp-stream-<ino>.img each), by socket inode. */
  get streams(): readonly { readonly ino: number; readonly stream: TcpStream }[] {
    return this.connections;
  }

  /** The FD_TYPE of the entry `id`. */
  typeOf(id: number): number {
    return this.list[id - 1]!.type;
  }

  private inetSocket(fd: FdInfo, s: SocketFacts, flags: number): number {
    const id = this.list.length + 1;
    this.list.push({
      type: FD_TYPE.INETSK,
      id,
      isk: {
        id,
        ino: fd.inode,
        family: s.family,
        type: s.type,
        proto: s.proto,
        state: s.state,
        src_port: s.src.port,
        dst_port: s.dst.port,
        flags,
        backlog: s.backlog,
        src_addr: s.src.words,
        dst_addr: s.dst.words,
        fown: NO_FOWN,
        opts: s.opts,
        ...(s.v6only !== undefined ? { v6only: s.v6only } : {}),
        ...(s.tcpOpts ? { tcp_opts: s.tcpOpts } : {}),
      },
    });
    if (s.stream) this.connections.push({ ino: fd.inode, stream: s.stream });
    return id;
  }

  private unixSocket(fd: FdInfo, s: SocketFacts, flags: number): number {
    const id = this.list.length + 1;
    const d = s.unix!.diag;
    const path = unixNamePath(d.name);
    let perms: { mode: number; uid: number; gid: number } | undefined;
    if (path !== undefined) {
      const st = lstatSync(path);
      perms = { mode: st.mode, uid: st.uid, gid: st.gid };
    }
    this.list.push({
      type: FD_TYPE.UNIXSK,
      id,
      usk: {
        id,
        ino: fd.inode,
        type: d.type,
        state: d.state,
        flags,
        uflags: 0,
        backlog: s.backlog,
        peer: d.peer,
        fown: NO_FOWN,
        opts: s.opts,
        name: d.name ?? Buffer.alloc(0),
        shutdown: d.shutdown,
        ...(perms ? { file_perms: perms } : {}),
      },
    });
    if (s.unix!.packets.length > 0) this.queues.push({ id, packets: s.unix!.packets });
    return id;
  }

  private timerfd(fd: FdInfo, flags: number): number {
    const id = this.list.length + 1;
    const t = timerfdFacts(fd);
    this.list.push({
      type: FD_TYPE.TIMERFD,
      id,
      tfd: {
        id,
        flags,
        fown: NO_FOWN,
        clockid: t.clockid,
        ticks: t.ticks,
        settime_flags: t.settimeFlags,
        vsec: t.value[0],
        vnsec: t.value[1],
        isec: t.interval[0],
        insec: t.interval[1],
      },
    });
    return id;
  }

  private signalfd(fd: FdInfo, flags: number): number {
    const id = this.list.length + 1;
    this.list.push({
      type: FD_TYPE.SIGNALFD,
      id,
      sgfd: { id, flags, fown: NO_FOWN, sigmask: signalfdMask(fd) },
    });
    return id;
  }

  private eventfd(fd: FdInfo, flags: number): number {
    const id = this.list.length + 1;
    const { counter } = eventfdFacts(fd);
    this.list.push({ type: FD_TYPE.EVENTFD, id, efd: { id, flags, fown: NO_FOWN, counter } });
    return id;
  }

  private eventpoll(fd: FdInfo, flags: number): number {
    const id = this.list.length + 1;
    const tfd = epollTargets(fd).map((t) => ({
      id,
      tfd: t.tfd,
      events: t.events,
      data: t.data,
      dev: t.dev,
      inode: BigInt(t.ino),
      pos: BigInt(t.pos),
    }));
    this.list.push({ type: FD_TYPE.EVENTPOLL, id, epfd: { id, flags, fown: NO_FOWN, tfd } });
    return id;
  }

  /** A PIPE entry for one end of pipe `inode` (flags: O_RDONLY / O_WRONLY | O_NONBLOCK ...). */
  pipe(inode: number, flags: number): number {
    const id = this.list.length + 1;
    this.list.push({ type: FD_TYPE.PIPE, id, pipe: { id, pipe_id: inode, flags, fown: NO_FOWN } });
    return id;
  }
}
