/**
 * One page-server session: the server side of the protocol as a state machine over bytes, independent of
 * sockets. It writes what it receives into one image directory through `ImageDir` (the same writer a
 * local pre-dump uses, so the images are the same bytes), and hands replies back through `reply`.
 *
 * ```
 *            PARENT(dst) -> i32 0/1         OPEN2(dst) -> u8 has_parent
 * open ----------------------------------------------------------------------> open
 *   |  ADD_F/ADD + data, ADD_F(no PE_PRESENT)/HOLE   (ranges of the open pagemap;
 *   |  a different dst_id opens implicitly, as CRIU does)
 *   |  CHECKSUM (only after the probe)   crc32 of the previous data-carrying ADD_F
 *   |-- CLOSE -> commit the images, reply i32 0 --> closed (waits for the client's EOF)
 *   |-- FORCE_CLOSE -> commit, reply i32 0 ------> closed
 *   '-- EOF / bad input / write failure --------> failed: the directory is aborted (INCOMPLETE marker)
 * ```
 * Writes are synchronous, so a session never holds more than one input chunk plus its 1 MiB staging buffer:
 * the socket is simply not read while the disk is busy (TCP flow control does the rest).
 *
 * @example
 * const s = new PageServerSession({ dir: '/srv/ps/1' }, (b) => socket.write(b));
 * socket.on('data', (c) => s.feed(c)); socket.on('end', () => s.end());
 */
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  firstEndingAbove,
  ImageDir,
  ImageError,
  imageFileName,
  PAGE_SERVER_PAGES_ID_BASE,
  PARENT_LINK,
  PageChain,
  type PagemapWriter,
  tempPath,
} from '../images/index.js';
import { PAGE_SIZE } from '../sys/constants.js';
import type { HeldPages } from './held-pages.js';
import {
  CHECKSUM_MAGIC,
  CHECKSUM_PROBE_ID,
  commandName,
  type Dst,
  decodeDstId,
  encodeHasParent,
  encodeI32Reply,
  PE_WIRE,
  PS,
  type PsHeader,
  PsParser,
} from './wire.js';
import { type ChunkChecksum, checksumFileName, encodeChecksums } from './wire-checksums.js';
import { WireError } from './wire-errors.js';

export interface PageServerSessionOptions {
  /** The image directory this session writes (created if missing). */
  dir: string;
  /** Target of its `parent` link, relative to `dir` (CRIU's --prev-images-dir). */
  parent?: string;
  /** Answer the checksum probe (default true). */
  checksums?: boolean;
  /** Pages held elsewhere: not written here but recorded PE_LAZY (held-pages.ts). */
  held?: HeldPages;
  /**
   * The parent set's chain for one pid, open (lent, not closed by the session): holes are checked against
   * it instead of a chain of its own (each session decoding every parent's pagemap again grows with the
   * chain: a migration's destination lends the one its pre-build holds).
   */
  parentChain?: PageChain;
  /** Keep each pagemap written decoded for a reader in this process (images/pagemap-memo.ts). */
  rememberPagemaps?: boolean;
}

export type SessionState = 'open' | 'closed' | 'failed';

export interface SessionCounts {
  messages: number;
  pagesWritten: number;
  holePages: number;
  payloadBytes: number;
}

/** Size of the staging buffer for small payload pieces, and the size from which a piece skips it. */
const STAGING_BYTES = 1 << 20;
const DIRECT_BYTES = 256 << 10;

const KNOWN_FLAGS = PE_WIRE.PARENT | PE_WIRE.LAZY | PE_WIRE.PRESENT;

interface OpenPagemap {
  dst: Dst;
  dstId: number;
  writer: PagemapWriter;
  sums: ChunkChecksum[];
  /** The task's pages along the parent chain, to check holes against (as CRIU's server does). */
  parent: PageChain | undefined;
  /** Whether `parent` is the session's own (closed with it) or lent. */
  ownParent: boolean;
  /** Where this task's held pages go (its pid is the held one), if any. */
  held: HeldPages | undefined;
}

/** Current data-carrying range: where the next payload bytes go. */
interface Incoming {
  target: OpenPagemap;
  vaddr: number;
  nrPages: number;
  flags: number;
  next: number;
  crc: number;
}

export class PageServerSession {
  readonly dir: string;
  readonly counts: SessionCounts = { messages: 0, pagesWritten: 0, holePages: 0, payloadBytes: 0 };
  private readonly images: ImageDir;
  private readonly parser = new PsParser();
  private readonly pagemaps = new Map<number, OpenPagemap>();
  private readonly checksumsOffered: boolean;
  private checksums = false;
  private current: OpenPagemap | undefined;
  private incoming: Incoming | undefined;
  /** Last data-carrying ADD_F, awaiting its CHECKSUM message (checksum mode only). */
  private unchecked: { target: OpenPagemap; vaddr: number; nrPages: number; crc: number } | undefined;
  /** Payload gathered until it is worth a write call (see onData). */
  private readonly staging = Buffer.allocUnsafe(STAGING_BYTES);
  private stagedLen = 0;
  private st: SessionState = 'open';
  private forced = false;
  private readonly held: HeldPages | undefined;
  private readonly parentChain: PageChain | undefined;
  private readonly rememberPagemaps: boolean;

  constructor(
    opts: PageServerSessionOptions,
    private readonly reply: (bytes: Buffer) => void,
  ) {
    this.dir = opts.dir;
    this.checksumsOffered = opts.checksums ?? true;
    this.held = opts.held;
    this.parentChain = opts.parentChain;
    this.rememberPagemaps = opts.rememberPagemaps === true;
    this.images = ImageDir.create(opts.dir, { parent: opts.parent, pagesIdBase: PAGE_SERVER_PAGES_ID_BASE });
  }

  get state(): SessionState {
    return this.st;
  }

  /** Whether the session ended with FORCE_CLOSE (the server does not wait for the client's EOF then). */
  get forceClosed(): boolean {
    return this.forced;
  }

  /** Whether the client enabled the checksum extension. */
  get checksummed(): boolean {
    return this.checksums;
  }

  /** Process received bytes. Throws WireError/ImageError on bad input (after aborting the images). */
  feed(chunk: Buffer): SessionState {
    if (this.st !== 'open') return this.st; // after CLOSE, CRIU only waits for EOF
    try {
      for (const ev of this.parser.feed(chunk)) {
        if (ev.kind === 'data') this.onData(ev.bytes, ev.last);
        else if (this.onMessage(ev.header) !== 'open') break;
      }
    } catch (e) {
      this.fail(e instanceof Error ? e.message : String(e));
      throw e;
    }
    return this.st;
  }

  /** The peer closed its side. Before CLOSE this is `NOT_FLUSHED` and aborts the images. */
  end(): void {
    if (this.st !== 'open') return;
    const e = new WireError(
      'NOT_FLUSHED',
      `connection ended before CLOSE (after ${this.parser.count} messages): the data were not flushed`,
    );
    this.fail(e.message);
    throw e;
  }

  /** Abort the images (INCOMPLETE marker with `reason`). Safe to call twice and after a commit (no-op). */
  fail(reason: string): void {
    if (this.st !== 'open') return;
    this.st = 'failed';
    this.closeChains();
    this.images.abort(reason);
  }

  private onMessage(h: PsHeader): SessionState {
    this.counts.messages++;
    if (this.unchecked && h.cmd !== PS.IOV_CHECKSUM) {
      throw new WireError(
        'PROTOCOL',
        `${commandName(h.cmd)} where the CHECKSUM of the previous data was due`,
      );
    }
    switch (h.cmd) {
      case PS.IOV_OPEN:
      case PS.IOV_OPEN2: {
        const pm = this.open(h.dstId);
        if (h.cmd === PS.IOV_OPEN2) this.reply(encodeHasParent(this.parentHas(pm.dst)));
        return 'open';
      }
      case PS.IOV_PARENT: {
        const dst = this.checkDst(h.dstId);
        if (dst.kind === 'pid' && dst.id === CHECKSUM_PROBE_ID && this.checksumsOffered) {
          this.checksums = true;
          this.reply(encodeI32Reply(CHECKSUM_MAGIC));
        } else {
          this.reply(encodeI32Reply(this.parentHas(dst) ? 1 : 0));
        }
        return 'open';
      }
      case PS.IOV_ADD:
        return this.range(h, PE_WIRE.PRESENT);
      case PS.IOV_HOLE:
        return this.range(h, PE_WIRE.PARENT);
      case PS.IOV_ADD_F:
        return this.range(h, h.flags);
      case PS.IOV_CHECKSUM:
        if (!this.checksums) throw new WireError('UNKNOWN_COMMAND', 'CHECKSUM without the checksum probe');
        return this.checked(h);
      case PS.IOV_CLOSE:
      case PS.IOV_FORCE_CLOSE:
        this.commit();
        this.forced = h.cmd === PS.IOV_FORCE_CLOSE;
        this.reply(encodeI32Reply(0));
        return 'closed';
      case PS.IOV_GET:
        throw new WireError('UNKNOWN_COMMAND', 'PS_IOV_GET: this page server does not serve lazy pages');
      default:
        throw new WireError('UNKNOWN_COMMAND', `unknown command 0x${h.cmd.toString(16)}`);
    }
  }

  private checkDst(dstId: number): Dst {
    const dst = decodeDstId(dstId);
    const name = this.pagemapName(dst);
    if (
      !Number.isSafeInteger(dst.id) ||
      basename(name) !== name ||
      !/^pagemap-(shmem-)?\d+\.img$/.test(name)
    ) {
      throw new WireError('BAD_DST_ID', `dst_id 0x${dstId.toString(16)} does not name an image`);
    }
    return dst;
  }

  private pagemapName(dst: Dst): string {
    return dst.kind === 'pid' ? imageFileName.pagemap(dst.id) : imageFileName.shmemPagemap(dst.id);
  }

  private parentHas(dst: Dst): boolean {
    return existsSync(join(this.dir, PARENT_LINK, this.pagemapName(dst)));
  }

  private open(dstId: number): OpenPagemap {
    const dst = this.checkDst(dstId);
    if (this.pagemaps.has(dstId)) {
      throw new WireError('PROTOCOL', `${this.pagemapName(dst)} opened twice in one session`);
    }
    const writer = this.images.pagemapWriter(dst.id, {
      shmem: dst.kind === 'shmem',
      remember: this.rememberPagemaps,
    });
    const withParent = dst.kind === 'pid' && this.parentHas(dst);
    const lent = withParent && this.parentChain?.pid === dst.id ? this.parentChain : undefined;
    const parentDir = withParent && !lent ? ImageDir.open(this.dir).parent() : undefined;
    const parent = lent ?? (parentDir ? new PageChain(parentDir, dst.id) : undefined);
    const held = dst.kind === 'pid' && this.held?.pid === dst.id ? this.held : undefined;
    const pm: OpenPagemap = { dst, dstId, writer, sums: [], parent, ownParent: !lent, held };
    this.pagemaps.set(dstId, pm);
    this.current = pm;
    return pm;
  }

  private range(h: PsHeader, flags: number): SessionState {
    if (flags === 0 || (flags & ~KNOWN_FLAGS) !== 0) {
      throw new WireError('PROTOCOL', `${commandName(h.cmd)}: bad flags 0x${flags.toString(16)}`);
    }
    // A range for another dst_id than the open one opens it implicitly ("Deprecated IO w/o open").
    const pm =
      this.current?.dstId === h.dstId ? this.current : (this.pagemaps.get(h.dstId) ?? this.open(h.dstId));
    this.current = pm;
    if (flags & PE_WIRE.PRESENT) {
      this.incoming = { target: pm, vaddr: h.vaddr, nrPages: h.nrPages, flags, next: h.vaddr, crc: 0 };
    } else {
      if (flags & PE_WIRE.PARENT && pm.parent) this.checkHole(pm.parent, h.vaddr, h.nrPages);
      pm.writer.addHole(h.vaddr, h.nrPages, flags);
      this.counts.holePages += h.nrPages;
    }
    return 'open';
  }

  /**
   * Payload bytes. Large runs of whole pages go straight to the writer (views, no copy); small pieces
   * (TLS hands out 16 KiB records, and a 32-byte header shifts every page across chunk boundaries) are
   * gathered in one staging buffer and written once it is full or the message ends, so the number of
   * write calls does not grow with the number of chunks.
   */
  private onData(bytes: Buffer, last: boolean): void {
    const inc = this.incoming!;
    this.counts.payloadBytes += bytes.length;
    if (this.checksums) inc.crc = crc32(bytes, inc.crc);
    let b = bytes;
    while (b.length > 0) {
      if (this.stagedLen === 0 && b.length >= DIRECT_BYTES) {
        const whole = b.length - (b.length % PAGE_SIZE);
        this.write(inc, b.subarray(0, whole));
        b = b.subarray(whole);
        continue;
      }
      const n = Math.min(STAGING_BYTES - this.stagedLen, b.length);
      b.copy(this.staging, this.stagedLen, 0, n);
      this.stagedLen += n;
      b = b.subarray(n);
      if (this.stagedLen === STAGING_BYTES) this.flushStaged(inc);
    }
    if (last) {
      this.flushStaged(inc);
      this.counts.pagesWritten += inc.nrPages;
      this.incoming = undefined;
      if (this.checksums)
        this.unchecked = { target: inc.target, vaddr: inc.vaddr, nrPages: inc.nrPages, crc: inc.crc };
    }
  }

  /** Write the whole pages of the staging buffer; a trailing partial page moves to its start. */
  private flushStaged(inc: Incoming): void {
    const whole = this.stagedLen - (this.stagedLen % PAGE_SIZE);
    if (whole === 0) return;
    this.write(inc, this.staging.subarray(0, whole));
    this.staging.copy(this.staging, 0, whole, this.stagedLen);
    this.stagedLen -= whole;
  }

  private write(inc: Incoming, pages: Buffer): void {
    const { writer, held } = inc.target;
    if (!held) {
      writer.addPages(inc.next, pages.length / PAGE_SIZE, pages, inc.flags);
      inc.next += pages.length;
      return;
    }
    // split at the edges of what is held: held pages go to their process, recorded PE_LAZY
    const end = inc.next + pages.length;
    let at = 0;
    while (inc.next < end) {
      const s = held.span(inc.next, end);
      const piece = pages.subarray(at, at + (s.to - inc.next));
      if (s.held) {
        held.write(inc.next, piece);
        writer.addHole(inc.next, piece.length / PAGE_SIZE, PE_WIRE.LAZY);
      } else writer.addPages(inc.next, piece.length / PAGE_SIZE, piece, inc.flags);
      at += piece.length;
      inc.next = s.to;
    }
  }

  /**
   * A PE_PARENT range must be listed by the parent's pagemap (data, held, or a hole of its own, which was
   * checked the same way when the parent came in), or restore could not find its pages. One level, as
   * CRIU's server checks: following every hole down the chain cost ~300 ms at a 9-set, 4 GiB migration's
   * final set (its holes cut into ever smaller pieces at each level), inside the downtime.
   */
  private checkHole(chain: PageChain, vaddr: number, nrPages: number): void {
    const top = chain.ranges;
    const end = vaddr + nrPages * PAGE_SIZE;
    if (!chain.sorted) {
      // not the order a dump writes: the chain's own walk
      const missing = chain.locate(vaddr, nrPages).find((l) => l.where === 'absent');
      if (missing) throw this.notInParent(missing.vaddr, missing.nrPages);
      return;
    }
    let pos = vaddr;
    for (let i = firstEndingAbove(top, vaddr); i < top.length && pos < end; i++) {
      const r = top[i]!;
      if (r.vaddr > pos) break;
      pos = Math.max(pos, r.vaddr + r.nrPages * PAGE_SIZE);
    }
    if (pos < end) throw this.notInParent(pos, (end - pos) / PAGE_SIZE);
  }

  private notInParent(vaddr: number, nrPages: number): WireError {
    return new WireError(
      'PROTOCOL',
      `hole at 0x${vaddr.toString(16)} (${nrPages} pages) is not in the parent image set`,
    );
  }

  private closeChains(): void {
    for (const pm of this.pagemaps.values()) if (pm.ownParent) pm.parent?.close();
  }

  private checked(h: PsHeader): SessionState {
    const u = this.unchecked;
    if (u === undefined) throw new WireError('PROTOCOL', 'CHECKSUM without preceding data');
    this.unchecked = undefined;
    if (h.vaddr !== u.vaddr || h.nrPages !== u.nrPages) {
      throw new WireError(
        'PROTOCOL',
        `CHECKSUM for 0x${h.vaddr.toString(16)}+${h.nrPages} follows data at 0x${u.vaddr.toString(16)}+${u.nrPages}`,
      );
    }
    const crc = h.dstId >>> 0;
    if (h.dstId > 0xffffffff || crc !== u.crc) {
      throw new WireError(
        'CHECKSUM',
        `data at 0x${u.vaddr.toString(16)} (${u.nrPages} pages): crc32 0x${u.crc.toString(16)}, sender says 0x${h.dstId.toString(16)}`,
      );
    }
    u.target.sums.push({ vaddr: u.vaddr, nrPages: u.nrPages, crc });
    return 'open';
  }

  private commit(): void {
    if (this.unchecked) throw new WireError('PROTOCOL', 'CLOSE where a CHECKSUM was due');
    this.held?.flush();
    // Checksum files go next to their pages files; temporaries until the images are committed.
    const sums: { tmp: string; final: string }[] = [];
    if (this.checksums) {
      for (const pm of this.pagemaps.values()) {
        const final = join(this.dir, checksumFileName(pm.writer.pagesId));
        const tmp = tempPath(final);
        writeFileSync(tmp, encodeChecksums(pm.sums), { mode: 0o600 });
        sums.push({ tmp, final });
      }
    }
    this.closeChains();
    try {
      this.images.commit();
    } catch (e) {
      this.st = 'failed';
      throw e instanceof ImageError
        ? e
        : new WireError('IO', `commit: ${(e as Error).message}`, { cause: e });
    }
    for (const s of sums) renameSync(s.tmp, s.final);
    this.st = 'closed';
  }
}
