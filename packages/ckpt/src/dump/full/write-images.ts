/**
 * writeTaskImages: the non-memory images of a full dump, from the TaskState of each process (root first):
 *
 * ```
 * pstree.img              one entry per process (the root's ppid is 0)
 * core-<tid>.img          core-entry.ts, one per thread
 * ids-<pid>.img           vm/files/fs/sighand ids (distinct per process, 2, 3, ...; the inventory's
 *                         root_ids use 1); no namespace ids: everything stays in the caller's namespaces
 * mm-<pid>.img            mm fields, brk, exe_file_id, 44 auxv words, vmas (vmas.ts), dumpable, THP
 * fs-<pid>.img            cwd_id, root_id (REG entries of the directories), umask
 * fdinfo-<files_id>.img   one entry per descriptor: id of its open file, FD_CLOEXEC, type, fd
 * files.img               every REG and PIPE entry (file-table.ts)
 * pipes-data.img          pipe_data_entry + the buffered bytes, per pipe that holds any
 * tty-info.img            tty_info_entry per terminal (--shell-job: tty.ts)
 * ```
 * Returns the inventory entry to commit with (img_version 2, fdinfo_per_id, root_ids); the caller
 * writes pagemap/pages (mem/), stats, and commits the directory (the inventory last marks it complete).
 *
 * @example
 * const inventory = writeTaskImages(dir, [state]);
 * dir.setInventory(inventory); dir.commit();
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  coreEntryCodec,
  encodeHeader,
  entryLength,
  type FdinfoEntry,
  fdinfoEntryCodec,
  fileEntryCodec,
  fsEntryCodec,
  IMG_VERSION,
  type ImageDir,
  type InventoryEntry,
  imageFileName,
  kobjIdsCodec,
  MAGIC,
  MTYPE_X86_64,
  mmEntryCodec,
  pipeDataEntryCodec,
  pstreeEntryCodec,
  skPacketEntryCodec,
  TASK_DEAD,
  tcpStreamEntryCodec,
  ttyInfoEntryCodec,
} from '../../images/index.js';
import { coreEntries } from './core-entry.js';
import { FileTable } from './file-table.js';
import type { TaskState } from './task-state.js';
import { vmaEntries } from './vmas.js';
import type { ZombieFacts } from './zombies.js';

const AT_VECTOR_SIZE = 44;
const O_CLOEXEC = 0o2000000;
const FD_CLOEXEC = 1;

/** 44 auxv words, as CRIU saves them (the first 44 of /proc/PID/auxv, zero-padded). */
function savedAuxv(words: readonly bigint[]): bigint[] {
  const out = words.slice(0, AT_VECTOR_SIZE);
  while (out.length < AT_VECTOR_SIZE) out.push(0n);
  return out;
}

/** fdinfo entries of one process; open file descriptions shared between fds get one id. */
function fdinfoEntries(s: TaskState, files: FileTable): FdinfoEntry[] {
  return s.fds.map((fd) => {
    const id = files.openFile(s.pid, fd, s.ttys.get(fd.fd), s.sockets.get(fd.fd));
    return { id, flags: fd.flags & O_CLOEXEC ? FD_CLOEXEC : 0, type: files.typeOf(id), fd: fd.fd };
  });
}

/** Write the images of the module comment for `states` (root first) into `dir`; see there. */
export function writeTaskImages(
  dir: ImageDir,
  states: readonly TaskState[],
  zombies: readonly ZombieFacts[] = [],
): InventoryEntry {
  const files = new FileTable();
  const pstree = states.map((s, i) =>
    pstreeEntryCodec.encode({
      pid: s.pid,
      ppid: i === 0 ? 0 : s.ppid,
      pgid: s.pgid,
      sid: s.sid,
      threads: s.threads.map((t) => t.state.tid),
    }),
  );
  // zombies after the live processes (their parents are among them), as CRIU: a core with TASK_DEAD
  for (const z of zombies) {
    pstree.push(
      pstreeEntryCodec.encode({ pid: z.pid, ppid: z.ppid, pgid: z.pgid, sid: z.sid, threads: [z.pid] }),
    );
    const core = {
      mtype: MTYPE_X86_64,
      tc: {
        task_state: TASK_DEAD,
        exit_code: z.status,
        personality: 0,
        flags: 0,
        blk_sigset: 0n,
        comm: z.comm,
      },
    };
    dir.writeImage(imageFileName.core(z.pid), MAGIC.CORE, [coreEntryCodec.encode(core)]);
  }
  dir.writeImage(imageFileName.pstree, MAGIC.PSTREE, pstree);
  states.forEach((s, i) => {
    const kid = i + 2;
    const ids = { vm_id: kid, files_id: kid, fs_id: kid, sighand_id: kid };
    dir.writeImage(imageFileName.ids(s.pid), MAGIC.IDS, [kobjIdsCodec.encode(ids)]);
    for (const [tid, core] of coreEntries(s)) {
      dir.writeImage(imageFileName.core(tid), MAGIC.CORE, [coreEntryCodec.encode(core)]);
    }
    const exeId = files.regFile(
      { path: s.exe.path, flags: 0, pos: 0, mode: s.exe.mode, size: s.exe.size },
      `map:${s.exe.dev}:${s.exe.ino}`,
    );
    const mm = mmEntryCodec.encode({
      mm_start_code: s.mm.startCode,
      mm_end_code: s.mm.endCode,
      mm_start_data: s.mm.startData,
      mm_end_data: s.mm.endData,
      mm_start_stack: s.mm.startStack,
      mm_start_brk: s.mm.startBrk,
      mm_brk: s.injected.brk,
      mm_arg_start: s.mm.argStart,
      mm_arg_end: s.mm.argEnd,
      mm_env_start: s.mm.envStart,
      mm_env_end: s.mm.envEnd,
      exe_file_id: exeId,
      mm_saved_auxv: savedAuxv(s.auxv),
      vmas: vmaEntries(s.pid, s.maps, s.vmFlags, files),
      dumpable: s.injected.dumpable,
      thp_disabled: s.injected.thpDisabled,
    });
    dir.writeImage(imageFileName.mm(s.pid), MAGIC.MM, [mm]);
    const fdinfo = fdinfoEntries(s, files).map((e) => fdinfoEntryCodec.encode(e));
    dir.writeImage(`fdinfo-${kid}.img`, MAGIC.FDINFO, fdinfo);
    const dirFacts = (p: TaskState['cwd']) => ({ path: p.path, flags: 0, pos: 0, mode: p.mode, size: 0 });
    const cwdId = files.regFile(dirFacts(s.cwd));
    const rootId = files.regFile(dirFacts(s.root));
    const umask = s.threads[0]!.creds.umask;
    dir.writeImage(`fs-${s.pid}.img`, MAGIC.FS, [
      fsEntryCodec.encode({ cwd_id: cwdId, root_id: rootId, umask }),
    ]);
  });
  dir.writeImage(
    imageFileName.files,
    MAGIC.FILES,
    files.entries.map((e) => fileEntryCodec.encode(e)),
  );
  writePipesData(dir, states);
  writeSkQueues(dir, files);
  writeTcpStreams(dir, files);
  writeTtyInfo(dir, states);
  return {
    img_version: IMG_VERSION,
    fdinfo_per_id: true,
    root_ids: { vm_id: 1, files_id: 1, fs_id: 1, sighand_id: 1 },
    lsmtype: 0,
    plugins_entry: {},
  };
}

/** tty-info.img: one entry per terminal of the tree (--shell-job), when there is any. */
function writeTtyInfo(dir: ImageDir, states: readonly TaskState[]): void {
  const infos = new Map<number, Uint8Array>();
  for (const s of states) {
    for (const t of s.ttys.values()) if (!infos.has(t.id)) infos.set(t.id, ttyInfoEntryCodec.encode(t));
  }
  if (infos.size > 0) dir.writeImage('tty-info.img', MAGIC.TTY_INFO, [...infos.values()]);
}

/** tcp-stream-<ino hex>.img per established connection: the entry, then its two queues' bytes. */
function writeTcpStreams(dir: ImageDir, files: FileTable): void {
  for (const { ino, stream: s } of files.streams) {
    const e = tcpStreamEntryCodec.encode({
      inq_len: s.inq.length,
      inq_seq: s.inqSeq,
      outq_len: s.outq.length,
      outq_seq: s.outqSeq,
      opt_mask: s.optMask,
      snd_wscale: s.sndWscale,
      mss_clamp: s.mssClamp,
      rcv_wscale: s.rcvWscale,
      timestamp: s.timestamp,
      unsq_len: s.unsqLen,
      ...(s.window
        ? {
            snd_wl1: s.window.sndWl1,
            snd_wnd: s.window.sndWnd,
            max_window: s.window.maxWindow,
            rcv_wnd: s.window.rcvWnd,
            rcv_wup: s.window.rcvWup,
          }
        : {}),
    });
    const bytes = Buffer.concat([
      encodeHeader(MAGIC.TCP_STREAM),
      entryLength(e.length),
      Buffer.from(e),
      s.inq,
      s.outq,
    ]);
    writeFileSync(join(dir.path, `tcp-stream-${ino.toString(16)}.img`), bytes, { mode: 0o600 });
  }
}

/** sk-queues.img: a packet entry (CRIU's id_for: the receiving socket's file id) and its bytes, each. */
function writeSkQueues(dir: ImageDir, files: FileTable): void {
  if (files.queued.length === 0) return;
  const parts: Buffer[] = [encodeHeader(MAGIC.SK_QUEUES)];
  for (const q of files.queued)
    for (const p of q.packets) {
      const e = skPacketEntryCodec.encode({ id_for: q.id, length: p.length });
      parts.push(entryLength(e.length), Buffer.from(e), p);
    }
  writeFileSync(join(dir.path, 'sk-queues.img'), Buffer.concat(parts), { mode: 0o600 });
}

/** pipes-data.img: each entry is followed by its bytes (an "extra" blob the entry framing does not cover). */
function writePipesData(dir: ImageDir, states: readonly TaskState[]): void {
  const parts: Buffer[] = [encodeHeader(MAGIC.PIPES_DATA)];
  const done = new Set<number>();
  for (const s of states) {
    for (const [inode, p] of s.pipes) {
      if (done.has(inode) || p.data.length === 0) continue;
      done.add(inode);
      const e = pipeDataEntryCodec.encode({ pipe_id: inode, bytes: p.data.length, size: p.size });
      parts.push(entryLength(e.length), Buffer.from(e), p.data);
    }
  }
  if (done.size === 0) return;
  // written in place: ImageDir frames entries but has no room for the blobs after them
  writeFileSync(join(dir.path, 'pipes-data.img'), Buffer.concat(parts), { mode: 0o600 });
}
