/**
 * The destination of a live migration (`ckpt receive`): receives the chain of image sets over one
 * channel (frame.ts has the protocol), writes each into DIR/<n> (parent ../<n-1>) as a page server and
 * a local dump would, restores the last one (restore/restoreProcess) when asked and reports the tree
 * running.
 *
 * ```
 * HELLO -> WELCOME (codec)    SET n -> PageServerSession(DIR/n, parent ../n-1)   PAGES* -> session.feed
 * PAGES_END -> session.end, REPLY_END    FILE* -> DIR/n/<name> (inventory.img last: the set is complete)
 * SET n with a preview of the root's VMAs: the pre-build holds them (prebuild.ts); the session writes the
 * root's pages there straight into the pre-built process (PE_LAZY entries), the rest into DIR/n
 * SET_DONE -> SET_OK, then the pre-build of DIR/n (pages gone since zeroed)
 * FILE of the final set: also decoded as it comes (restore/DecodedImages), while the next ones are sent
 * SET_DONE of the final set -> SET_OK, then its images read (restore/readTree) while RESTORE comes
 * RESTORE n -> restoreProcess(DIR/n, the pre-built process if any) -> RUNNING {pid}    DONE -> done
 * any failure, ABORT, or the connection lost before DONE: the pre-built process and the restored tree
 * (if any) are killed, every
 * DIR/<n> this run created is removed, ERROR {message} is sent if the peer still listens, one error thrown
 * ```
 * The images on this side are disposable until DONE (the source still runs), so files are written without
 * fsync: the final set's files are on the downtime's path.
 *
 * @example
 * const r = await receiveMigration({ dir: '/srv/mig', channel: Channel.over(socket) });
 * console.log(r.restored.pid);
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  collectBeforeWindow,
  lowerForIterations,
  raiseForWindow,
  type WindowPriority,
} from '../dump/index.js';
import { tempPath } from '../images/index.js';
import {
  DecodedImages,
  killAndReap,
  type RestoreResult,
  readTree,
  restoreProcess,
  type TreeImages,
} from '../restore/index.js';
import { cancelledBy } from '../sys/index.js';
import {
  availableCodecs,
  type CodecName,
  negotiateCodec,
  openCodec,
  PageServerSession,
} from '../xfer/index.js';
import { type Channel, peerOrProtocol } from './channel.js';
import { MigrateError } from './errors.js';
import {
  decodeFilePayload,
  decodeJson,
  FLAG_COMPRESSED,
  FRAME,
  type Frame,
  frameName,
  MIGRATION_VERSION,
} from './frame.js';
import { Prebuild, parsePreview, type SetPreview } from './prebuild.js';

export interface ReceiveOptions {
  /** Where the image sets go: DIR/1, DIR/2, ... (created). */
  readonly dir: string;
  readonly channel: Channel;
  /** Codecs offered (default: every one that loads here). */
  readonly codecs?: readonly CodecName[];
  /** The restore (default restoreProcess of the set); tests replace it (no pre-build then). */
  readonly restore?: (imagesDir: string) => Promise<RestoreResult>;
  /**
   * Build the root while the source runs, from the VMA previews its SET frames carry (default true; an
   * old source sends none: the plain restore).
   */
  readonly prebuild?: boolean;
  /** How pages get into the pre-built process (default 'writev'). */
  readonly pageFill?: 'writev' | 'pread';
  /** Info lines (the CLI's log). */
  readonly log?: (line: string) => void;
  /** Cancellation (SIGINT/SIGTERM): like a lost connection, nothing of this run is left. */
  readonly signal?: AbortSignal;
}

export interface ReceivedSet {
  readonly n: number;
  readonly final: boolean;
  readonly pages: number;
  readonly holes: number;
  readonly files: number;
}

export interface ReceiveResult {
  readonly sets: readonly ReceivedSet[];
  readonly codec: CodecName;
  readonly restored: RestoreResult;
  /** The final set's directory (the one restored). */
  readonly imagesDir: string;
  readonly bytesIn: number;
}

/** Receive one migration (see the module comment). Throws MigrateError (or the restore's error). */
export async function receiveMigration(o: ReceiveOptions): Promise<ReceiveResult> {
  const ch = o.channel;
  const log = o.log ?? (() => {});
  const created: string[] = [];
  let madeRoot = false;
  let restored: RestoreResult | undefined;
  const prebuildOn = o.prebuild !== false && !o.restore;
  const prebuild = new Prebuild((line) => log(line), o.pageFill);
  const onAbort = () => ch.destroy();
  let priority: WindowPriority | undefined;
  // the pre-build while the source iterates: behind the target's threads where they share the cores
  const background = lowerForIterations();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const hello = await ch.expect(FRAME.HELLO);
    if (hello.version !== MIGRATION_VERSION)
      throw new MigrateError(
        'VERSION',
        `the source speaks protocol ${String(hello.version)}, we ${MIGRATION_VERSION}`,
      );
    const offered = o.codecs ?? availableCodecs();
    const theirs = Array.isArray(hello.codecs) ? (hello.codecs as CodecName[]) : ['none' as const];
    const codec = negotiateCodec(
      (hello.codec as CodecName | undefined) ?? 'none',
      offered.filter((c) => theirs.includes(c)),
    );
    const features = prebuildOn ? ['preview', 'drain'] : [];
    await ch.sendJson(FRAME.WELCOME, { version: MIGRATION_VERSION, codecs: offered, codec, features });
    ch.useCodec(openCodec(codec));
    log(`migration from ${ch.peer}: pid ${String(hello.pid)}, codec ${codec}`);
    if (!existsSync(o.dir)) {
      mkdirSync(o.dir, { recursive: true });
      madeRoot = true;
    }
    const sets: ReceivedSet[] = [];
    let set: OpenSet | undefined;
    let preRead: TreeImages | undefined;
    let decoded: DecodedImages | undefined;
    for (;;) {
      if (o.signal?.aborted) throw cancelledBy(o.signal, 'receive cancelled');
      const f = await ch.next();
      switch (f.type) {
        case FRAME.SET: {
          if (set) throw new MigrateError('PROTOCOL', `SET ${set.n + 1} before SET_DONE of ${set.n}`);
          const b = decodeJson(f);
          const n = Number(b.n);
          if (n !== sets.length + 1)
            throw new MigrateError('PROTOCOL', `SET ${String(b.n)} where ${sets.length + 1} was due`);
          const path = join(o.dir, String(n));
          if (existsSync(path))
            throw new MigrateError('PROTOCOL', `${path} exists already: give receive an empty -D`);
          created.push(path);
          const final = b.final === true;
          // the final set's root pages go into the pre-built process too (the restore adopts them as held)
          const preview = prebuildOn ? parsePreview(b.preview) : undefined;
          if (final) {
            // the source freezes now: the hand-over runs at a higher priority (nice -10 where allowed),
            // and a scavenge now rather than a pause of the restore in the downtime. Not a full GC: its
            // 17-39 ms and helper threads ran into the source's window on the two vCPUs both share here
            // (4 GiB, 5 migrations each, alternated: downtime median 92.4 ms, was 113.1; bench/README.md)
            priority ??= raiseForWindow();
            collectBeforeWindow('minor');
          }
          // the root's anonymous memory goes straight into the pre-built process (prebuild.ts)
          const pre = preview
            ? await prebuild.prepare(path, preview)
            : { held: undefined, parentChain: final && prebuildOn ? await prebuild.chain() : undefined };
          const session = new PageServerSession(
            {
              dir: path,
              parent: n > 1 ? `../${n - 1}` : undefined,
              checksums: false,
              held: pre?.held,
              parentChain: pre?.parentChain,
              rememberPagemaps: true, // read back at once: the pre-build's chain, the restore
            },
            (bytes) => void ch.send(FRAME.REPLY, bytes).catch(() => {}),
          );
          set = { n, final, path, session, files: 0, pagesDone: false, preview };
          break;
        }
        case FRAME.PAGES: {
          const session = openSet(set, f).session;
          if (f.flags & FLAG_COMPRESSED) session.feed(ch.decompress(f));
          else for (const piece of f.pieces) session.feed(piece); // the session takes any split: no copy
          break;
        }
        case FRAME.PAGES_END: {
          const s = openSet(set, f);
          s.session.end();
          s.pagesDone = true;
          await ch.send(FRAME.REPLY_END);
          break;
        }
        case FRAME.FILE: {
          const s = openSet(set, f);
          const { name, bytes } = decodeFilePayload(ch.decompress(f));
          const path = join(s.path, name);
          writeFileSync(tempPath(path), bytes, { mode: 0o600 });
          renameSync(tempPath(path), path);
          s.files++;
          // decoded now, while the source sends the next ones (the restore's images)
          if (s.final && !o.restore) {
            decoded ??= new DecodedImages();
            decoded.add(name, bytes);
          }
          break;
        }
        case FRAME.SET_DONE: {
          const s = openSet(set, f);
          if (!s.pagesDone || s.session.state !== 'closed')
            throw new MigrateError('PROTOCOL', `SET_DONE of ${s.n} before its pages were closed`);
          if (!existsSync(join(s.path, 'inventory.img')))
            throw new MigrateError('PROTOCOL', `set ${s.n} came without inventory.img`);
          const c = s.session.counts;
          sets.push({ n: s.n, final: s.final, pages: c.pagesWritten, holes: c.holePages, files: s.files });
          await ch.sendJson(FRAME.SET_OK, { n: s.n, pages: c.pagesWritten, holes: c.holePages });
          log(`set ${s.n}: ${c.pagesWritten} pages, ${c.holePages} in the parent, ${s.files} files`);
          if (s.preview && !s.final) prebuild.push(s.path);
          // the final set's images decoded while the RESTORE that asks for them is on its way (a
          // failure is the restore's to say: it reads them again)
          if (s.final && !o.restore) preRead = tryReadTree(s.path, decoded);
          set = undefined;
          break;
        }
        case FRAME.DRAIN: {
          const t = performance.now();
          await prebuild.idle();
          await ch.sendJson(FRAME.DRAINED, { ms: performance.now() - t });
          break;
        }
        case FRAME.RESTORE: {
          const last = sets.at(-1);
          if (set || !last?.final)
            throw new MigrateError('PROTOCOL', 'RESTORE before the final set is complete');
          const dir = join(o.dir, String(last.n));
          const shellJob = decodeJson(f).shellJob === true; // the terminal here becomes the job's
          const prebuilt = await prebuild.take();
          const restore =
            o.restore ??
            ((d: string) =>
              restoreProcess({
                imagesDir: d,
                shellJob,
                prebuilt,
                images: preRead,
                signal: o.signal,
                log: (_l, m) => log(`restore: ${m}`),
              }));
          restored = await restore(dir);
          await ch.sendJson(FRAME.RUNNING, {
            pid: restored.pid,
            pids: restored.pids,
            millis: restored.millis,
          });
          priority?.restore();
          const pre = restored.prebuilt ? ` (pre-built: ${restored.prebuilt.kept} mappings kept)` : '';
          log(
            `restored ${restored.pid} in ${restored.millis.toFixed(1)} ms${pre}; waiting for the source to end`,
          );
          break;
        }
        case FRAME.DONE: {
          if (!restored) throw new MigrateError('PROTOCOL', 'DONE before RESTORE');
          ch.close();
          return {
            sets,
            codec,
            restored,
            imagesDir: join(o.dir, String(sets.at(-1)!.n)),
            bytesIn: ch.stats.bytesIn,
          };
        }
        default:
          throw peerOrProtocol(f, 'a migration frame');
      }
    }
  } catch (e) {
    prebuild.kill();
    if (restored) for (const pid of [...restored.pids].reverse()) killAndReap(pid);
    for (const p of created) rmSync(p, { recursive: true, force: true });
    if (madeRoot && readdirSync(o.dir).length === 0) rmSync(o.dir, { recursive: true, force: true });
    if (!ch.error) {
      const message = e instanceof Error ? e.message : String(e);
      await ch.sendJson(FRAME.ERROR, { message }).catch(() => {});
      ch.close();
    }
    throw o.signal?.aborted ? cancelledBy(o.signal, 'receive cancelled') : e;
  } finally {
    priority?.restore();
    background.restore();
    o.signal?.removeEventListener('abort', onAbort);
  }
}

interface OpenSet {
  readonly n: number;
  readonly final: boolean;
  readonly path: string;
  readonly session: PageServerSession;
  files: number;
  pagesDone: boolean;
  /** The source's root as the set started (a pre-build follows the set), when it sent one. */
  readonly preview: SetPreview | undefined;
}

function openSet(set: OpenSet | undefined, f: Frame): OpenSet {
  if (!set) throw new MigrateError('PROTOCOL', `${frameName(f.type)} outside an image set`);
  return set;
}

/** The images of `path` decoded, or undefined when they do not read (the restore says why). */
function tryReadTree(path: string, decoded: DecodedImages | undefined): TreeImages | undefined {
  try {
    return readTree(path, decoded);
  } catch {
    return undefined;
  }
}
