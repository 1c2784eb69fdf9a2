/**
 * One image directory: one dump iteration's image set, optionally chained to the previous one through a
 * `parent` symlink (its target stored verbatim, relative to this directory, as CRIU does).
 *
 * Lifecycle of a directory being written:
 * ```
 * create() --> writing --(pagemapWriter(), setInventory(), writeStats(), writeIrmapCache())
 *                 |--> commit(): finish writers, rename .name.tmp -> name, write inventory.img LAST --> committed
 *                 '--> abort(reason): delete temporaries, leave INCOMPLETE (the reason)          --> aborted
 * ```
 * So a directory without inventory.img is incomplete (a page-server directory, which CRIU gives no
 * inventory, is complete when it has no temporaries and no INCOMPLETE marker). Disposing a directory
 * still being written aborts it.
 *
 * @example
 * using d = ImageDir.create('/ckpt/pre2', { parent: '../pre1' });
 * const w = d.pagemapWriter(pid);
 * w.addPages(0x400000, 1, page); w.addHole(0x401000, 3);
 * d.writeStats(stats); d.writeIrmapCache(); d.setInventory(preDumpInventory(PRE_DUMP_MODE.READ));
 * d.commit();
 * ImageDir.open('/ckpt/pre2').inventory().pre_dump_mode; // 2
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { BugError } from '../sys/index.js';
import { fsCall, ImageError } from './errors.js';
import { encodeImage } from './image-file.js';
import { readInventory, writeInventory } from './inventory.js';
import { encodeIrmapCache } from './irmap-cache.js';
import {
  classifyImageName,
  type ImageFileKind,
  INCOMPLETE_MARKER,
  imageFileName,
  PARENT_LINK,
} from './magics.js';
import { PagemapReader } from './pagemap-reader.js';
import { PagemapWriter } from './pagemap-writer.js';
import { refusePseudoFs } from './pseudo-fs.js';
import type { DumpStatsEntry, InventoryEntry, StatsEntry } from './schema.js';
import { encodeStatsImage, readStats } from './stats.js';
import { isTempName, tempPath, writeFileAtomic } from './temp-file.js';

/** Options of `ImageDir.create`. */
export interface CreateImageDirOptions {
  /** Target of the `parent` symlink, relative to the new directory (e.g. `../pre1`). */
  parent?: string;
  /** First pages-<n>.img id (1 for a dump, PAGE_SERVER_PAGES_ID_BASE for a page server). */
  pagesIdBase?: number;
  /**
   * fsync every file before its rename and the directory after, so that after a crash an inventory.img
   * on disk implies all the other images are too. Off by default (CRIU does not fsync either).
   */
  sync?: boolean;
}

/** One file of an image directory, as `ImageDir.list()` classifies it. */
export interface ImageListing {
  readonly name: string;
  readonly kind: ImageFileKind['kind'] | 'parent-link' | 'marker' | 'temporary';
  readonly size: number;
}

type State = 'writing' | 'reading' | 'committed' | 'aborted';

/**
 * An image directory being written (`create`) or read (`open`); see the module comment for the lifecycle.
 *
 * @example
 * const d = ImageDir.open('/ckpt/pre2'); d.complete; d.pids(); d.parent()?.path;
 */
export class ImageDir {
  readonly path: string;
  private state: State;
  private nextPagesId: number;
  private readonly writers: PagemapWriter[] = [];
  /** Temporary -> final name of every file written so far. */
  private readonly renames: { tmp: string; final: string }[] = [];
  private inventoryEntry: InventoryEntry | undefined;
  private readonly sync: boolean;

  private constructor(path: string, state: State, pagesIdBase: number, sync = false) {
    this.path = path;
    this.state = state;
    this.nextPagesId = pagesIdBase;
    this.sync = sync;
  }

  /** Create (or reuse an unfinished) directory for a new image set; `parent` must be an existing dir. */
  static create(path: string, opts: CreateImageDirOptions = {}): ImageDir {
    refusePseudoFs(path, 'image directory');
    fsCall(`mkdir ${path}`, () => mkdirSync(path, { recursive: true }));
    if (existsSync(join(path, imageFileName.inventory))) {
      throw new ImageError('EXISTS', `${path} already holds a complete image set`);
    }
    for (const name of fsCall(`list ${path}`, () => readdirSync(path))) {
      if (isTempName(name) || name === INCOMPLETE_MARKER || name === PARENT_LINK) {
        fsCall(`remove ${join(path, name)}`, () => unlinkSync(join(path, name)));
      }
    }
    if (opts.parent !== undefined) {
      const target = resolve(path, opts.parent);
      if (!isDirectory(target)) {
        throw new ImageError(
          'MISSING_PARENT',
          `parent image directory ${opts.parent} (${target}) does not exist`,
        );
      }
      fsCall(`symlink ${join(path, PARENT_LINK)}`, () => symlinkSync(opts.parent!, join(path, PARENT_LINK)));
    }
    return new ImageDir(path, 'writing', opts.pagesIdBase ?? 1, opts.sync);
  }

  /** Open an existing image directory for reading. */
  static open(path: string): ImageDir {
    if (!isDirectory(path)) throw new ImageError('MISSING_IMAGE', `${path}: not an image directory`);
    return new ImageDir(path, 'reading', 1);
  }

  // ---- writing -------------------------------------------------------------------------------------

  /** A writer for `pagemap-<pid>.img` (or `pagemap-shmem-<id>.img`) and a new `pages-<n>.img`. */
  pagemapWriter(id: number, opts: { shmem?: boolean; remember?: boolean } = {}): PagemapWriter {
    this.expectWriting();
    const pagesId = this.nextPagesId++;
    const name = opts.shmem ? imageFileName.shmemPagemap(id) : imageFileName.pagemap(id);
    const pagemap = join(this.path, name);
    if (this.renames.some((r) => r.final === pagemap))
      throw new BugError(`${name} written twice`, { code: 'BAD_STATE' });
    const pages = join(this.path, imageFileName.pages(pagesId));
    const w = new PagemapWriter({
      pagemapPath: tempPath(pagemap),
      pagesPath: tempPath(pages),
      pagesId,
      remember: opts.remember,
    });
    this.writers.push(w);
    this.renames.push({ tmp: w.pagemapPath, final: pagemap }, { tmp: w.pagesPath, final: pages });
    return w;
  }

  /** The inventory to write (last) on commit. */
  setInventory(entry: InventoryEntry): void {
    this.expectWriting();
    this.inventoryEntry = entry;
  }

  writeStats(dump: DumpStatsEntry): void {
    this.writeTemp(imageFileName.stats, encodeStatsImage({ dump }));
  }

  writeIrmapCache(): void {
    this.writeTemp(imageFileName.irmapCache, encodeIrmapCache());
  }

  /** Any other image: `name` with header for `magic` and the given message bytes as entries. */
  writeImage(name: string, magic: number, entries: readonly Uint8Array[]): void {
    this.writeTemp(name, encodeImage(magic, entries));
  }

  private writeTemp(name: string, bytes: Uint8Array): void {
    this.expectWriting();
    const final = join(this.path, name);
    const tmp = tempPath(final);
    fsCall(`write ${tmp}`, () => writeFileSync(tmp, bytes, { mode: 0o600 }));
    this.renames.push({ tmp, final });
  }

  /** Finish every writer, give every file its real name, then write inventory.img. */
  commit(): void {
    this.expectWriting();
    try {
      for (const w of this.writers) w.finish();
      if (this.sync) for (const { tmp } of this.renames) fsyncPath(tmp, 'r');
      for (const { tmp, final } of this.renames) fsCall(`rename ${tmp}`, () => renameSync(tmp, final));
      if (this.sync) fsyncPath(this.path, 'r');
      if (this.inventoryEntry) {
        writeInventory(join(this.path, imageFileName.inventory), this.inventoryEntry, this.sync);
        if (this.sync) fsyncPath(this.path, 'r');
      }
    } catch (e) {
      this.abort(`commit failed: ${(e as Error).message}`);
      throw e instanceof ImageError
        ? e
        : new ImageError('IO', `commit ${this.path}: ${(e as Error).message}`);
    }
    this.state = 'committed';
  }

  /** Give up: delete temporaries, leave an INCOMPLETE marker holding `reason`. Safe to call twice. */
  abort(reason: string): void {
    if (this.state !== 'writing') return;
    this.state = 'aborted';
    for (const w of this.writers) w.discard();
    for (const name of fsCall(`list ${this.path}`, () => readdirSync(this.path))) {
      if (isTempName(name))
        fsCall(`remove ${join(this.path, name)}`, () => unlinkSync(join(this.path, name)));
    }
    writeFileAtomic(join(this.path, INCOMPLETE_MARKER), Buffer.from(`${reason}\n`));
  }

  /** Aborts a directory still being written. */
  [Symbol.dispose](): void {
    this.abort('not committed');
  }

  private expectWriting(): void {
    if (this.state !== 'writing') throw new BugError(`${this.path} is ${this.state}`, { code: 'BAD_STATE' });
  }

  // ---- reading -------------------------------------------------------------------------------------

  /** Whether inventory.img is there (the last file a commit writes). */
  get complete(): boolean {
    return existsSync(join(this.path, imageFileName.inventory));
  }

  /** The reason an aborted directory gives, if it has the marker. */
  get incompleteReason(): string | undefined {
    const p = join(this.path, INCOMPLETE_MARKER);
    return existsSync(p) ? fsCall(`read ${p}`, () => readFileSync(p, 'utf8')).trim() : undefined;
  }

  /** Every file of the directory, classified, sorted by name. */
  list(): ImageListing[] {
    const names = fsCall(`list ${this.path}`, () => readdirSync(this.path)).sort();
    return names.map((name): ImageListing => {
      const p = join(this.path, name);
      if (name === PARENT_LINK) return { name, kind: 'parent-link', size: 0 };
      const size = fsCall(`stat ${p}`, () => statSync(p)).size;
      if (name === INCOMPLETE_MARKER) return { name, kind: 'marker', size };
      if (isTempName(name)) return { name, kind: 'temporary', size };
      return { name, kind: classifyImageName(name).kind, size };
    });
  }

  inventory(): InventoryEntry {
    const p = join(this.path, imageFileName.inventory);
    if (!existsSync(p)) {
      const why = this.incompleteReason;
      throw new ImageError('INCOMPLETE', `${this.path}: no inventory.img${why ? ` (aborted: ${why})` : ''}`);
    }
    return readInventory(p);
  }

  /** stats-dump, if the directory has one. */
  stats(): StatsEntry | undefined {
    const p = join(this.path, imageFileName.stats);
    return existsSync(p) ? readStats(p) : undefined;
  }

  /** Pids that have a pagemap here, ascending. */
  pids(): number[] {
    const ids: number[] = [];
    for (const name of fsCall(`list ${this.path}`, () => readdirSync(this.path))) {
      const k = classifyImageName(name);
      if (k.kind === 'pagemap') ids.push(k.id);
    }
    return ids.sort((a, b) => a - b);
  }

  hasPagemap(pid: number): boolean {
    return existsSync(join(this.path, imageFileName.pagemap(pid)));
  }

  /** Reader of pagemap-<pid>.img (close it when done). */
  pagemap(pid: number): PagemapReader {
    return PagemapReader.open(this.path, imageFileName.pagemap(pid));
  }

  /** Target of the `parent` link exactly as stored, if there is one. */
  parentLink(): string | undefined {
    const p = join(this.path, PARENT_LINK);
    try {
      return readlinkSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ImageError('BROKEN_CHAIN', `${p}: not a symlink`, { cause: e });
    }
  }

  /** The parent image set, or undefined if there is no `parent` link (`BROKEN_CHAIN` if it dangles). */
  parent(): ImageDir | undefined {
    const link = this.parentLink();
    if (link === undefined) return undefined;
    const target = resolve(this.path, link);
    if (!isDirectory(target)) {
      throw new ImageError('BROKEN_CHAIN', `${this.path}/${PARENT_LINK} -> ${link}: no such directory`);
    }
    return ImageDir.open(target);
  }

  /** The parent's `dump_uptime` (µs since boot), for the pid-reuse check; undefined if it has none. */
  parentDumpUptime(): number | undefined {
    const parent = this.parent();
    if (parent === undefined) throw new ImageError('MISSING_PARENT', `${this.path} has no parent`);
    return parent.inventory().dump_uptime;
  }
}

function fsyncPath(path: string, flags: string): void {
  fsCall(`fsync ${path}`, () => {
    const fd = openSync(path, flags);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  });
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
