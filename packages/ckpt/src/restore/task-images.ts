/**
 * What a restore reads of each process from an image directory, decoded and checked for what this build
 * restores: the pstree entry, its core(s), mm (VMAs, mm fields, auxv, exe), fs (cwd, root, umask), its
 * descriptors (fdinfo-<files_id>.img against files.img) and pipe data.
 *
 * ```
 * pstree.img (root first, parents first) -> per process: ids-PID (files_id) -> core-TID... mm-PID fs-PID
 *               -> files.img (REG, PIPE and TTY entries by id) -> fdinfo-<files_id>.img -> pipes-data.img
 *               -> tty-info.img (when there is one)
 * ```
 * Everything is read before anything is built: a missing or corrupt image is a RestoreError before a pid
 * is taken.
 *
 * @example
 * const [root, ...children] = readTreeImages(ImageDir.open('/ckpt/final'));
 * const t = root;
 * t.pid; t.mm.vmas.length; t.fds; t.files.get(t.mm.exe_file_id)?.reg?.name;
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CoreEntry,
  coreEntryCodec,
  decodeImageOf,
  type FdinfoEntry,
  type FileEntry,
  type FsEntry,
  fdinfoEntryCodec,
  fileEntryCodec,
  fsEntryCodec,
  ImageDir,
  ImageError,
  imageFileName,
  kobjIdsCodec,
  MAGIC,
  type MmEntry,
  MTYPE_X86_64,
  mmEntryCodec,
  type PstreeEntry,
  pipeDataEntryCodec,
  pstreeEntryCodec,
  singleEntry,
  TASK_DEAD,
  type TtyInfoEntry,
  ttyInfoEntryCodec,
  type ZombieProcess,
} from '../images/index.js';
import { readBlobImage } from './blob-image.js';
import { RestoreError } from './errors.js';

export interface TaskImages {
  readonly dir: ImageDir;
  readonly pid: number;
  readonly pstree: PstreeEntry;
  /** Core of each thread, the leader first. */
  readonly cores: readonly CoreEntry[];
  readonly mm: MmEntry;
  readonly fs: FsEntry;
  readonly fds: readonly FdinfoEntry[];
  /** files.img by id. */
  readonly files: ReadonlyMap<number, FileEntry>;
  /** pipes-data.img by pipe_id (the inode the dump saw). */
  readonly pipeData: ReadonlyMap<number, Buffer>;
  /** tty-info.img by id (the tree's terminals: a --shell-job dump; empty otherwise). */
  readonly ttys: ReadonlyMap<number, TtyInfoEntry>;
}

/**
 * Images decoded as they arrived (a migration's final set, FILE by FILE: the decoding overlaps the
 * transfer of the next ones), by file name; readTree(path, decoded) takes its entries from there. An
 * image that does not decode is left out: the restore reads it from the file and says why.
 */
export class DecodedImages {
  private readonly entries = new Map<string, readonly unknown[]>();

  /** Decode image `name` (its bytes as written), if it is one the restore reads. */
  add(name: string, bytes: Uint8Array): void {
    const kind = IMAGE_KINDS.find(([re]) => re.test(name));
    if (!kind) return;
    try {
      this.entries.set(
        name,
        decodeImageOf(bytes, kind[1]).map((b) => kind[2](b)),
      );
    } catch {
      /* the restore reads the file again */
    }
  }

  get(name: string): readonly unknown[] | undefined {
    return this.entries.get(name);
  }
}

/** The images DecodedImages takes: name, magic, entry decoder. */
const IMAGE_KINDS: readonly (readonly [RegExp, number, (b: Uint8Array) => unknown])[] = [
  [/^pstree\.img$/, MAGIC.PSTREE, (b) => pstreeEntryCodec.decode(b)],
  [/^files\.img$/, MAGIC.FILES, (b) => fileEntryCodec.decode(b)],
  [/^tty-info\.img$/, MAGIC.TTY_INFO, (b) => ttyInfoEntryCodec.decode(b)],
  [/^core-\d+\.img$/, MAGIC.CORE, (b) => coreEntryCodec.decode(b)],
  [/^ids-\d+\.img$/, MAGIC.IDS, (b) => kobjIdsCodec.decode(b)],
  [/^mm-\d+\.img$/, MAGIC.MM, (b) => mmEntryCodec.decode(b)],
  [/^fs-\d+\.img$/, MAGIC.FS, (b) => fsEntryCodec.decode(b)],
  [/^fdinfo-\d+\.img$/, MAGIC.FDINFO, (b) => fdinfoEntryCodec.decode(b)],
];

/** The decoded images readTree was given, while it runs (it is synchronous). */
let early: DecodedImages | undefined;

function read(dir: ImageDir, name: string, magic: number): Buffer[] {
  const path = join(dir.path, name);
  if (!existsSync(path)) throw new RestoreError('ENOENT', `${path}: missing (not a full dump?)`);
  try {
    return decodeImageOf(readFileSync(path), magic);
  } catch (e) {
    if (e instanceof ImageError)
      throw new RestoreError('CORRUPT_IMAGE', `${path}: ${e.message}`, { cause: e });
    throw e;
  }
}

function decodeOne<T>(dir: ImageDir, name: string, magic: number, decode: (b: Uint8Array) => T): T {
  const hit = early?.get(name); // decoded by the same codec (IMAGE_KINDS: one per name)
  if (hit?.length === 1) return hit[0] as T;
  try {
    return decode(singleEntry(read(dir, name, magic), name));
  } catch (e) {
    if (e instanceof ImageError)
      throw new RestoreError('CORRUPT_IMAGE', `${join(dir.path, name)}: ${e.message}`, { cause: e });
    throw e;
  }
}

function decodeAll<T>(dir: ImageDir, name: string, magic: number, decode: (b: Uint8Array) => T): T[] {
  const hit = early?.get(name);
  if (hit) return [...hit] as T[];
  try {
    return read(dir, name, magic).map((b) => decode(b));
  } catch (e) {
    if (e instanceof ImageError)
      throw new RestoreError('CORRUPT_IMAGE', `${join(dir.path, name)}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** pipes-data.img: entries each followed by their raw bytes (absent file: no pipe held data). */
function readPipeData(dir: ImageDir): Map<number, Buffer> {
  const path = join(dir.path, 'pipes-data.img');
  const blobs = readBlobImage(
    path,
    (b) => pipeDataEntryCodec.decode(b),
    (e) => e.bytes,
  );
  return new Map(blobs.map(({ entry, data }) => [entry.pipe_id, data]));
}

/**
 * Read and check the images of every process of `dir` (a full dump), the root first, parents before
 * their children (pstree.img's order). Throws RestoreError: ENOENT for a missing image, CORRUPT_IMAGE
 * (also for a parent listed after its child).
 */
export function readTreeImages(dir: ImageDir): TaskImages[] {
  const tree = decodeAll(dir, imageFileName.pstree, MAGIC.PSTREE, (b) => pstreeEntryCodec.decode(b));
  if (tree.length === 0) throw new RestoreError('CORRUPT_IMAGE', `${dir.path}/pstree.img: no process`);
  const fileList = decodeAll(dir, imageFileName.files, MAGIC.FILES, (b) => fileEntryCodec.decode(b));
  const files = new Map(fileList.map((f) => [f.id, f]));
  const pipeData = readPipeData(dir);
  const ttyList = existsSync(join(dir.path, 'tty-info.img'))
    ? decodeAll(dir, 'tty-info.img', MAGIC.TTY_INFO, (b) => ttyInfoEntryCodec.decode(b))
    : [];
  const ttys = new Map<number, TtyInfoEntry>(ttyList.map((t) => [t.id, t]));
  const seen = new Set<number>();
  const out: TaskImages[] = [];
  for (const [i, pstree] of tree.entries()) {
    if (i > 0 && !seen.has(pstree.ppid))
      throw new RestoreError(
        'CORRUPT_IMAGE',
        `pstree.img: process ${pstree.pid} comes before its parent ${pstree.ppid}`,
      );
    seen.add(pstree.pid);
    if (i > 0 && zombieCore(dir, pstree)) continue; // readZombies
    out.push(readTask(dir, pstree, files, pipeData, ttys));
  }
  return out;
}

/** A zombie of the dump (images' ZombieProcess). */
export type ZombieImages = ZombieProcess;

/** The core of pstree entry `p` when it is a zombie's (task_state TASK_DEAD), else undefined. */
function zombieCore(dir: ImageDir, p: PstreeEntry): CoreEntry | undefined {
  const core = decodeOne(dir, imageFileName.core(p.pid), MAGIC.CORE, (b) => coreEntryCodec.decode(b));
  return core.tc?.task_state === TASK_DEAD ? core : undefined;
}

/** Everything a restore reads of an image directory (readTreeImages, readZombies), read before it starts. */
export interface TreeImages {
  readonly dir: string;
  readonly tasks: readonly TaskImages[];
  readonly zombies: readonly ZombieImages[];
}

/**
 * The images of `path` read and decoded ahead of a restore (restoreProcess's `images`): a migration's
 * destination reads the final set while the RESTORE that asks for it is on its way, its entries decoded
 * as the files came (`decoded`; the rest read from the files).
 */
export function readTree(path: string, decoded?: DecodedImages): TreeImages {
  const dir = ImageDir.open(path);
  early = decoded;
  try {
    return { dir: path, tasks: readTreeImages(dir), zombies: readZombies(dir) };
  } finally {
    early = undefined;
  }
}

/**
 * The zombies of `dir` (pstree entries whose core says TASK_DEAD; readTreeImages leaves them out), in
 * pstree order: each one's parent is a live process of the tree.
 */
export function readZombies(dir: ImageDir): ZombieImages[] {
  const tree = decodeAll(dir, imageFileName.pstree, MAGIC.PSTREE, (b) => pstreeEntryCodec.decode(b));
  const out: ZombieImages[] = [];
  for (const p of tree.slice(1)) {
    const core = zombieCore(dir, p);
    if (!core) continue;
    out.push({
      pid: p.pid,
      ppid: p.ppid,
      pgid: p.pgid,
      sid: p.sid,
      status: core.tc!.exit_code,
      comm: core.tc!.comm,
    });
  }
  return out;
}

function readTask(
  dir: ImageDir,
  pstree: PstreeEntry,
  files: ReadonlyMap<number, FileEntry>,
  pipeData: ReadonlyMap<number, Buffer>,
  ttys: ReadonlyMap<number, TtyInfoEntry>,
): TaskImages {
  const pid = pstree.pid;
  if (pstree.threads[0] !== pid)
    throw new RestoreError(
      'CORRUPT_IMAGE',
      `pstree.img: process ${pid}'s first thread is ${pstree.threads[0]}`,
    );
  const cores = pstree.threads.map((tid) =>
    decodeOne(dir, imageFileName.core(tid), MAGIC.CORE, (b) => coreEntryCodec.decode(b)),
  );
  const leader = cores[0]!;
  if (leader.mtype !== MTYPE_X86_64 || !leader.thread_info || !leader.tc)
    throw new RestoreError('CORRUPT_IMAGE', `core-${pid}.img: not an x86-64 leader core`);
  for (const [i, c] of cores.entries())
    if (c.mtype !== MTYPE_X86_64 || !c.thread_info)
      throw new RestoreError('CORRUPT_IMAGE', `core-${pstree.threads[i]}.img: not an x86-64 thread core`);
  const ids = decodeOne(dir, imageFileName.ids(pid), MAGIC.IDS, (b) => kobjIdsCodec.decode(b));
  const mm = decodeOne(dir, imageFileName.mm(pid), MAGIC.MM, (b) => mmEntryCodec.decode(b));
  const fs = decodeOne(dir, `fs-${pid}.img`, MAGIC.FS, (b) => fsEntryCodec.decode(b));
  const fds = decodeAll(dir, `fdinfo-${ids.files_id}.img`, MAGIC.FDINFO, (b) => fdinfoEntryCodec.decode(b));
  for (const fd of fds)
    if (!files.has(fd.id))
      throw new RestoreError(
        'CORRUPT_IMAGE',
        `fd ${fd.fd} of process ${pid} names file ${fd.id}, not in files.img`,
      );
  for (const v of mm.vmas)
    if (v.shmid !== 0n && !files.get(Number(v.shmid))?.reg)
      throw new RestoreError(
        'CORRUPT_IMAGE',
        `a mapping at 0x${v.start.toString(16)} names file ${v.shmid}, not in files.img`,
      );
  return { dir, pid, pstree, cores, mm, fs, fds, files, pipeData, ttys };
}
