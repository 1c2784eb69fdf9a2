/**
 * The descriptors of the restored tree: what the helper left is closed, every file is opened once in the
 * root (children inherit it, so what they shared stays shared), then moved to its number in each process.
 *
 * ```
 * in the root, before its children exist (openTreeFiles):
 * close every fd the clone inherited (/proc/PID/fd)
 * REG   openat(name, flags without O_CREAT/O_EXCL/O_TRUNC/O_NOCTTY) -> lseek(pos) -> park above the top
 *       fd, all queued with the closes: one batch (each open lands on the lowest free fd, 0, 1, ...)
 * PIPE  pipe2 once per pipe (pipe_id; a stop: its fds are read back) -> its buffered bytes written in ->
 *       both ends parked -> a dup of the recorded end parked, O_NONBLOCK as recorded (queued)
 * TTY   (--shell-job) fd 0 the clone inherited from the helper, ckpt's terminal, parked first; each
 *       entry a dup of it (terminal.ts)
 * EVENTFD    eventfd2(0, O_NONBLOCK as recorded) -> its counter written in -> parked
 * EVENTPOLL  epoll_create1(0), O_NONBLOCK as recorded -> parked (its interest list comes later)
 * INETSK     a TCP listener or unconnected socket, a UDP socket: socket, bind, listen | connect, options
 *            (inet-socket.ts) -> parked
 * TIMERFD    timerfd_create, the time left and interval, the unread expirations (timer-signal-fds.ts)
 * SIGNALFD   signalfd4 with the dumped mask
 * UNIXSK     a pair once for both ends (queued packets written back), a listener or bound socket, an
 *            unbound one (unix-socket.ts) -> parked
 * in each process, which inherited the parked fds (installFds):
 *       dup2(parked, fd) for every entry (shared descriptions share one parked fd), FD_CLOEXEC as
 *       recorded; then each epoll instance's watched files (first process holding it, whose descriptor
 *       numbers the dump recorded): epoll_ctl(ADD, tfd, {events, data}); every parked fd closed
 * ```
 * Parking above the highest wanted number keeps a fresh descriptor from landing on a number a later
 * entry needs. Every fd at or above it is one of our F_DUPFD(top) calls, in order, so each park's number
 * is known when it is queued (checked when it runs): no call waits for a park's result. /dev/null is a REG entry like any file. Other kinds (inotify, netlink sockets, ...) are refused (ENOTSUP).
 *
 * @example
 * const files = openTreeFiles(root, tasks); // then clone the children
 * installFds(child, childImages, files);
 */
import { readdirSync } from 'node:fs';
import { FD_TYPE } from '../images/index.js';
import { F, O, RSYS } from '../sys/index.js';
import { RestoreError } from './errors.js';
import { openInetSocket, readTcpStream } from './inet-socket.js';
import type { RemoteTask } from './remote-task.js';
import { putArg, queueOpen, writeInTask } from './task-args.js';
import type { TaskImages } from './task-images.js';
import { openSignalfd, openTimerfd } from './timer-signal-fds.js';
import { readSkQueues, UnixSockets } from './unix-socket.js';

const F_DUPFD = 0;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const EPOLL_CTL_ADD = 1;
const DROP_FLAGS = 0o100 | 0o200 | 0o400 | 0o1000; // O_CREAT O_EXCL O_NOCTTY O_TRUNC

/** The open file descriptions of a tree, parked above every wanted number in the root (then inherited). */
export interface OpenFiles {
  /** Parked fd per files.img id. */
  readonly parked: ReadonlyMap<number, number>;
  /** Parked pipe ends (read, write) of every pipe made, and ckpt's terminal (--shell-job) once parked. */
  readonly otherParked: readonly (readonly number[])[];
  /** Epoll instances (files.img ids) whose watched files are registered (installFds, once each). */
  readonly epollsFilled: Set<number>;
}

/**
 * In the root, before its children are cloned: close what the helper left, then open every file any
 * process of `tasks` has at a descriptor (one open description per files.img id: a description shared by
 * a parent and a child, or by fd 1 and 2, stays one) and park it above the highest wanted number.
 * `terminal`: the clone's fd 0 is ckpt's terminal (--shell-job), kept for the TTY entries.
 */
export function openTreeFiles(task: RemoteTask, tasks: readonly TaskImages[], terminal = false): OpenFiles {
  const top = Math.max(2, ...tasks.flatMap((t) => t.fds.map((f) => f.fd))) + 1;
  task.flush(); // (nothing queued, as a rule) the listing below must be the table the closes act on
  const tty = terminal ? task.call('park the terminal', RSYS.fcntl, 0, F_DUPFD, top) : -1;
  for (const name of readdirSync(`/proc/${task.pid}/fd`))
    if (Number(name) !== tty) task.queue(`close fd ${name}`, RSYS.close, [Number(name)], { mayFail: true });
  // every fd at or above `top` comes from an F_DUPFD(top) of ours, in order: each lands on the next
  // number (checked when its batch runs), so nothing waits for the parks' results
  let nextHigh = tty >= 0 ? tty + 1 : top;
  const dupHigh = (fd: number, what: string) => {
    const want = nextHigh++;
    task.queue(what, RSYS.fcntl, [fd, F_DUPFD, top], { onResult: expectFd(what, want) });
    return want;
  };
  const park = (fd: number, what: string) => {
    const high = dupHigh(fd, `park ${what}`);
    task.queue(`close fd ${fd}`, RSYS.close, [fd], { mayFail: true });
    return high;
  };
  const parked = new Map<number, number>();
  // the regular files opened in one batch with the closes above: every low fd is free then (the
  // terminal's is parked), so they land on 0, 1, 2, ... (checked); seeked and parked in the same batch
  const regFds = new Map<number, number>();
  for (const t of tasks)
    for (const e of t.fds) {
      const reg = t.files.get(e.id)?.type === FD_TYPE.REG ? t.files.get(e.id)?.reg : undefined;
      if (!reg || regFds.has(e.id)) continue;
      const want = regFds.size;
      regFds.set(e.id, want);
      queueOpen(task, reg.name, reg.flags & ~DROP_FLAGS & ~O.CLOEXEC, expectFd(`open ${reg.name}`, want));
    }
  if (regFds.size >= top)
    throw new RestoreError('ENOTSUP', `${regFds.size} regular files: more than fd ${top}`);
  const pipes = new Map<number, [number, number]>();
  let unix: UnixSockets | undefined;
  const done = new Set<number>();
  for (const t of tasks)
    for (const e of t.fds) {
      if (done.has(e.id)) continue;
      done.add(e.id);
      const file = t.files.get(e.id)!;
      if (file.type === FD_TYPE.REG && file.reg) {
        const reg = file.reg;
        const fd = regFds.get(e.id)!;
        if (reg.pos !== 0n) task.queue(`lseek ${reg.name}`, RSYS.lseek, [fd, Number(reg.pos), 0]);
        parked.set(e.id, park(fd, reg.name));
      } else if (file.type === FD_TYPE.PIPE && file.pipe) {
        const p = file.pipe;
        let ends = pipes.get(p.pipe_id);
        if (!ends) {
          const at = putArg(task, Buffer.alloc(8));
          task.call('pipe2', RSYS.pipe2, at, 0);
          const b = task.read(at, 8);
          const [r, w] = [b.readInt32LE(0), b.readInt32LE(4)];
          writeInTask(task, w, t.pipeData.get(p.pipe_id) ?? Buffer.alloc(0), `pipe ${p.pipe_id}`);
          ends = [park(r, 'pipe'), park(w, 'pipe')];
          pipes.set(p.pipe_id, ends);
        }
        const end = (p.flags & 3) === O.RDONLY ? ends[0] : ends[1];
        const fd = dupHigh(end, 'dup pipe end');
        if (p.flags & O.NONBLOCK) task.queue('fcntl O_NONBLOCK', RSYS.fcntl, [fd, F.SETFL, O.NONBLOCK]);
        parked.set(e.id, fd);
      } else if (file.type === FD_TYPE.EVENTFD && file.efd) {
        const fd = task.call('eventfd2', RSYS.eventfd2, 0, file.efd.flags & O.NONBLOCK);
        if (file.efd.counter !== 0n) {
          const at = putArg(task, Buffer.from(new BigUint64Array([file.efd.counter]).buffer));
          task.call('write the eventfd counter', RSYS.write, fd, at, 8);
        }
        parked.set(e.id, park(fd, 'eventfd'));
      } else if (file.type === FD_TYPE.EVENTPOLL && file.epfd) {
        const fd = task.call('epoll_create1', RSYS.epoll_create1, 0);
        if (file.epfd.flags & O.NONBLOCK) task.call('fcntl O_NONBLOCK', RSYS.fcntl, fd, F.SETFL, O.NONBLOCK);
        parked.set(e.id, park(fd, 'epoll'));
      } else if (file.type === FD_TYPE.TIMERFD && file.tfd) {
        parked.set(e.id, park(openTimerfd(task, file.tfd), 'timerfd'));
      } else if (file.type === FD_TYPE.SIGNALFD && file.sgfd) {
        parked.set(e.id, park(openSignalfd(task, file.sgfd), 'signalfd'));
      } else if (file.type === FD_TYPE.UNIXSK && file.usk) {
        unix ??= new UnixSockets(task, t.files.values(), readSkQueues(t.dir));
        for (const [id, fd] of unix.open(file.usk)) parked.set(id, park(fd, 'unix socket'));
      } else if (file.type === FD_TYPE.INETSK && file.isk) {
        const stream = readTcpStream(t.dir, file.isk);
        parked.set(e.id, park(openInetSocket(task, file.isk, stream), 'socket'));
      } else if (file.type === FD_TYPE.TTY && tty >= 0) {
        parked.set(e.id, dupHigh(tty, 'dup the terminal'));
      } else {
        throw new RestoreError(
          'ENOTSUP',
          `fd ${e.fd} of process ${t.pid}: file type ${file.type} is not restored yet`,
        );
      }
    }
  const otherParked = [...pipes.values(), ...(tty >= 0 ? [[tty]] : [])];
  return { parked, otherParked, epollsFilled: new Set() };
}

/** A check of a call that makes an fd: it landed on `want` (the number the calls after it were given). */
function expectFd(what: string, want: number): (fd: number) => void {
  return (fd) => {
    if (fd !== want) throw new RestoreError('EIO', `${what}: fd ${fd}, ${want} expected`);
  };
}

/**
 * In each process (its own copy of the parked fds): dup2 to the wanted numbers, FD_CLOEXEC, the epoll
 * instances' watched files, close the parked.
 */
export function installFds(task: RemoteTask, t: TaskImages, files: OpenFiles): void {
  for (const e of t.fds) {
    task.queue(`dup2 to fd ${e.fd}`, RSYS.dup2, [files.parked.get(e.id)!, e.fd]);
    if (e.flags & FD_CLOEXEC) task.queue(`FD_CLOEXEC on fd ${e.fd}`, RSYS.fcntl, [e.fd, F_SETFD, FD_CLOEXEC]);
  }
  for (const e of t.fds) {
    const epoll = t.files.get(e.id)?.epfd;
    if (!epoll || files.epollsFilled.has(e.id)) continue;
    files.epollsFilled.add(e.id);
    const event = Buffer.alloc(12); // struct epoll_event, packed on x86-64: u32 events, u64 data
    for (const w of epoll.tfd ?? []) {
      event.writeUInt32LE(w.events >>> 0, 0);
      event.writeBigUInt64LE(BigInt.asUintN(64, w.data), 4);
      const what = `epoll_ctl(fd ${e.fd}, ADD, fd ${w.tfd})`;
      task.queue(what, RSYS.epoll_ctl, (at) => [e.fd, EPOLL_CTL_ADD, w.tfd, at], { data: event });
    }
  }
  for (const fd of [...files.parked.values(), ...files.otherParked.flat()])
    task.queue(`close fd ${fd}`, RSYS.close, [fd], { mayFail: true });
}
