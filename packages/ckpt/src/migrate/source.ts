/**
 * The source of a live migration (`ckpt migrate`): tracked pre-dumps over one channel while the tree
 * runs (no freeze after the first's injected setup), the convergence rule (convergence.ts) after each,
 * then the final dump over the same channel; the destination restores, and only when it reports the tree
 * running is the source tree killed.
 *
 * ```
 * connect, HELLO/WELCOME (codec)
 * iteration k = 1, 2, ...   SET {k, preview: the root's anonymous VMAs from /proc/PID/maps, when the
 *                           destination pre-builds}
 *                           preDump(WORK/k, parent ../k-1, tracking kept, pages -> PageStream)
 *                           FILE* (inventory.img last), SET_DONE -> SET_OK
 *                           sample {page bytes, time, dirtied bytes, time since the last collect} -> decide()
 *                           iterate | finish ('fits', 'max-iterations', 'no-convergence') | give up
 *                           (after the first: the image encoders and the page planner rehearsed, so
 *                           that they run optimized in the window; the root's VmFlags read ahead on a
 *                           libuv thread, again whenever its VMAs changed: vm-flags-ahead.ts)
 * final                     finalDump(WORK/k+1, parent ../k, the same tracking session and read buffers):
 *                           frozen, pages -> PageStream, images -> FILE*,
 *                           SET_DONE -> SET_OK, RESTORE -> RUNNING: kill the frozen tree, DONE
 * failure anywhere          the tree keeps running (a frozen tree is thawed), tracking ended, ABORT sent,
 *                           the destination removes what it built; one MigrateError (or the layer's)
 * ```
 * Bandwidth for the rule is page bytes (before compression) per ms of iteration: what the link carries
 * for this target, compression included. The downtime the source sees: the final dump's frozen time plus
 * the hand-over (the last files, the restore, the RUNNING reply).
 *
 * @example
 * const r = await migrate({ pid, workDir: '/var/tmp/mig', to: { address: '10.0.0.2', port: 27100 } });
 * console.log(r.iterations.length, r.downtimeMs);
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { assertDumpable, finalDump, rehearseTaskImages } from '../dump/full/index.js';
import {
  type Logger,
  lowerForIterations,
  preDump,
  silentLogger,
  TrackingSession,
  warmPlanner,
} from '../dump/index.js';
import { rehearseCodecs } from '../images/index.js';
import { PageReader } from '../mem/index.js';
import { readMaps, type Vma } from '../proc/index.js';
import { cancelledBy, PROT } from '../sys/index.js';
import {
  availableCodecs,
  type CodecName,
  openCodec,
  PageServerClient,
  type PageSink,
  type TlsFiles,
} from '../xfer/index.js';
import { Channel } from './channel.js';
import { type Decision, decide, type IterationSample } from './convergence.js';
import { MigrateError } from './errors.js';
import { encodeFilePayload, FRAME, MIGRATION_VERSION } from './frame.js';
import { PageStream } from './page-stream.js';
import { VmFlagsAhead } from './vm-flags-ahead.js';

export interface MigrateOptions {
  readonly pid: number;
  readonly to: { readonly address: string; readonly port: number; readonly tls?: TlsFiles };
  /** The source's own image sets (metadata, tracking state, logs): WORK/1, WORK/2, ... */
  readonly workDir: string;
  /** Downtime limit for the rule, ms (default 100). */
  readonly maxDowntimeMs?: number;
  /** Pre-dump iterations at most (default 10). */
  readonly maxIterations?: number;
  /** Cap on the sending rate, bytes/s (default none). */
  readonly bandwidth?: number;
  /** Compression wanted (default 'none'); the destination may answer 'none'. */
  readonly compress?: CodecName;
  /** When the target dirties faster than the link carries (or at maxIterations): finish anyway or give up. */
  readonly onNoConvergence?: 'finish' | 'give-up';
  /** The tree was started from a shell (as ckpt dump --shell-job). */
  readonly shellJob?: boolean;
  /** The final dump's pre-copy passes before its freeze, at most (finalDump's preCopyPasses; default 0). */
  readonly preCopyPasses?: number;
  /** Established TCP connections go along (as ckpt dump --tcp-established; the address must move too). */
  readonly tcpEstablished?: boolean;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  /** After each iteration (and the final dump, with its decision 'final'). */
  readonly onIteration?: (r: IterationReport) => void;
  /** Progress of the current iteration's copy. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface IterationReport {
  /** 1-based; the final dump's is the last. */
  readonly n: number;
  readonly final: boolean;
  readonly pagesWritten: number;
  /** Bytes on the wire for this set (compressed, with headers and files). */
  readonly bytesSent: number;
  /** Page bytes before compression. */
  readonly pageBytes: number;
  /** ms the iteration took (copy and send). */
  readonly ms: number;
  /** The target's dirty rate, bytes/s (0 when not measured yet). */
  readonly dirtyRate: number;
  /** The link's bandwidth as measured, bytes/s. */
  readonly bandwidth: number;
  /** The downtime the rule projects for a final dump now, ms. */
  readonly projectedMs: number;
  /** What the rule decided after this iteration ('final' for the final dump). */
  readonly decision: Decision['action'] | 'final';
  readonly why: string;
  /** The final dump: ms frozen until its images were complete. */
  readonly frozenMs?: number;
}

export interface MigrateResult {
  readonly pid: number;
  readonly iterations: readonly IterationReport[];
  /** Why iterating stopped. */
  readonly reason: 'fits' | 'max-iterations' | 'no-convergence';
  readonly codec: CodecName;
  /** The restored root's pid at the destination, and how long its restore took there (ms). */
  readonly restoredPid: number;
  readonly restoreMs: number;
  /** As the source saw it: frozen from the final dump's freeze to RUNNING (ms). */
  readonly downtimeMs: number;
  readonly frozenMs: number;
  readonly handoverMs: number;
  readonly bytesSent: number;
  readonly pageBytes: number;
  readonly totalMs: number;
}

/** Migrate `o.pid` and its descendants (see the module comment). */
export async function migrate(o: MigrateOptions): Promise<MigrateResult> {
  const t0 = performance.now();
  const log = o.logger ?? silentLogger;
  const rule = {
    maxDowntimeMs: o.maxDowntimeMs ?? 100,
    maxIterations: o.maxIterations ?? 10,
    fixedMs: 0,
    onNoConvergence: o.onNoConvergence ?? 'finish',
  } as const;
  // what the final dump would refuse is refused before anything is copied or sent
  assertDumpable({ pid: o.pid, shellJob: o.shellJob, tcpEstablished: o.tcpEstablished });
  const ch = await Channel.connect(o.to);
  const onAbort = () => ch.destroy();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const reports: IterationReport[] = [];
  let session: TrackingSession | undefined;
  // the iterations copy while the target runs: behind its threads where they share the cores (the final
  // dump's window raises itself above them: raiseForWindow)
  const background = lowerForIterations();
  try {
    if (o.bandwidth) ch.capRate(o.bandwidth);
    const wanted = o.compress ?? 'none';
    if (wanted !== 'none') openCodec(wanted); // a missing library fails here, before anything is sent
    await ch.sendJson(FRAME.HELLO, {
      version: MIGRATION_VERSION,
      codecs: availableCodecs(),
      codec: wanted,
      pid: o.pid,
      features: ['preview'],
    });
    const welcome = await ch.expect(FRAME.WELCOME);
    if (welcome.version !== MIGRATION_VERSION)
      throw new MigrateError('VERSION', `the destination speaks protocol ${String(welcome.version)}`);
    const codec = (welcome.codec as CodecName | undefined) ?? 'none';
    /** The destination pre-builds from previews (an older one sends no features: none sent). */
    const previews = Array.isArray(welcome.features) && welcome.features.includes('preview');
    /** It answers DRAIN once its pre-build caught up (the final dump waits for that, unfrozen). */
    const drains = previews && Array.isArray(welcome.features) && welcome.features.includes('drain');
    ch.useCodec(openCodec(codec));
    if (wanted !== codec) log.warn('the destination does not do %s: sending uncompressed', wanted);

    const open = (): Promise<PageSink> =>
      PageServerClient.over(new PageStream(ch), {
        address: o.to.address,
        port: o.to.port,
        label: ch.peer,
        keepOpen: true,
      });
    const samples: IterationSample[] = [];
    session = TrackingSession.open('auto', undefined, log);
    using reader = new PageReader(o.pid, { bufferSize: 4 << 20 });
    const vmFlags = new VmFlagsAhead(o.pid);
    let lastStart: number | undefined;
    let decision: Decision | undefined;
    for (let n = 1; ; n++) {
      if (o.signal?.aborted) throw cancelledBy(o.signal, 'migration cancelled');
      const start = performance.now();
      const out0 = ch.stats.bytesOut;
      vmFlags.refresh();
      const preview = previews ? previewOf(o.pid, o.shellJob === true) : undefined;
      await ch.sendJson(FRAME.SET, { n, parent: n > 1 ? n - 1 : null, final: false, preview });
      const r = await preDump({
        pid: o.pid,
        imagesDir: join(o.workDir, String(n)),
        prevImagesDir: n > 1 ? `../${n - 1}` : undefined,
        target: { kind: 'session', open },
        tracking: session,
        reader,
        saveTracking: true,
        trackMem: 'auto',
        logger: log,
        signal: o.signal,
        onProgress: o.onProgress,
      });
      await sendSet(ch, join(o.workDir, String(n)), n);
      const ms = performance.now() - start;
      // the final dump's image encoders and page planner run optimized, not interpreted (~10 ms of its
      // window), its images' writer compiled (~7 ms more): rehearsed once now, after the first copy (the
      // longest iteration anyway; ~0.1-0.2 s)
      if (n === 1) {
        rehearseCodecs();
        warmPlanner();
        rehearseTaskImages();
      }
      const pageBytes = r.pagesWritten * 4096;
      samples.push({
        bytesSent: pageBytes,
        sendMs: ms,
        bytesDirtied: pageBytes,
        dirtyMs: lastStart === undefined ? 0 : start - lastStart,
      });
      lastStart = start;
      decision = decide(samples, rule);
      const last = samples.at(-1)!;
      const rep: IterationReport = {
        n,
        final: false,
        pagesWritten: r.pagesWritten,
        bytesSent: ch.stats.bytesOut - out0,
        pageBytes,
        ms,
        dirtyRate: last.dirtyMs > 0 ? (last.bytesDirtied / last.dirtyMs) * 1000 : 0,
        bandwidth: ms > 0 ? (pageBytes / ms) * 1000 : 0,
        projectedMs: decision.projectedMs,
        decision: decision.action,
        why: decision.why,
      };
      reports.push(rep);
      o.onIteration?.(rep);
      log.info('iteration %d: %d pages, %s: %s', n, r.pagesWritten, decision.action, decision.why);
      if (decision.action === 'give-up') throw new MigrateError('NO_CONVERGENCE', decision.why);
      if (decision.action === 'finish') {
        if (!drains) break;
        // the destination's restore would wait for its pre-build with this tree frozen: wait here,
        // running; a long wait let more be written: one more iteration then (within the limit)
        const d = performance.now();
        await ch.sendJson(FRAME.DRAIN, {});
        await ch.expect(FRAME.DRAINED);
        const waited = performance.now() - d;
        log.info('the destination pre-built every set in %d ms more', Math.round(waited));
        if (waited <= rule.maxDowntimeMs || n >= rule.maxIterations) break;
      }
    }

    // the final dump: frozen from here until the destination runs the tree (or fails: thawed)
    const n = reports.length + 1;
    const dir = join(o.workDir, String(n));
    const out0 = ch.stats.bytesOut;
    const start = performance.now();
    const early = await vmFlags.take();
    // the preview (read before the freeze: a VMA changed since only makes its pages go to files there)
    const preview = previews ? previewOf(o.pid, o.shellJob === true) : undefined;
    await ch.sendJson(FRAME.SET, { n, parent: n - 1, final: true, preview });
    let running: { pid: number; millis: number } | undefined;
    let handoverMs = 0;
    const fin = await finalDump({
      pid: o.pid,
      imagesDir: dir,
      prevImagesDir: `../${n - 1}`,
      target: { kind: 'session', open },
      shellJob: o.shellJob,
      tcpEstablished: o.tcpEstablished,
      preCopyPasses: o.preCopyPasses,
      reader, // its buffers, touched by the iterations: none allocated just before the freeze
      early,
      tracking: session, // goes on: ended (released) by the final dump, on every way out
      refusalsChecked: true, // at the start; the window looks again
      closeSessionSoon: true, // the destination takes the files below only after it closed the pages
      logger: log,
      signal: o.signal,
      onProgress: o.onProgress,
      release: async () => {
        const h = performance.now();
        // RESTORE right behind SET_DONE (the destination takes them in order): no round trip between
        await sendSet(ch, dir, n, false);
        await ch.sendJson(FRAME.RESTORE, { n, shellJob: o.shellJob === true });
        await ch.expect(FRAME.SET_OK);
        const b = await ch.expect(FRAME.RUNNING);
        running = { pid: Number(b.pid), millis: Number(b.millis) };
        handoverMs = performance.now() - h;
        return 'kill';
      },
    });
    await ch.sendJson(FRAME.DONE, {});
    ch.close();
    const frozenMs = fin.frozenTime / 1000;
    const rep: IterationReport = {
      n,
      final: true,
      pagesWritten: fin.pagesWritten,
      bytesSent: ch.stats.bytesOut - out0,
      pageBytes: fin.pagesWritten * 4096,
      ms: performance.now() - start,
      dirtyRate: reports.at(-1)?.dirtyRate ?? 0,
      bandwidth: reports.at(-1)?.bandwidth ?? 0,
      projectedMs: decision?.projectedMs ?? 0,
      decision: 'final',
      why: 'the final dump',
      frozenMs,
    };
    reports.push(rep);
    o.onIteration?.(rep);
    const r = running as { pid: number; millis: number } | undefined;
    return {
      pid: o.pid,
      iterations: reports,
      reason: decision?.action === 'finish' ? decision.reason : 'fits',
      codec,
      restoredPid: r?.pid ?? 0,
      restoreMs: r?.millis ?? 0,
      downtimeMs: frozenMs + handoverMs,
      frozenMs,
      handoverMs,
      bytesSent: ch.stats.bytesOut,
      pageBytes: reports.reduce((s, x) => s + x.pageBytes, 0),
      totalMs: performance.now() - t0,
    };
  } catch (e) {
    // the link's own failure, when it broke first: what it broke here (a page write, a reply) says less
    const lost = ch.error;
    session?.release(); // nothing of ours stays in a tree that keeps running
    if (!ch.error) {
      const reason = e instanceof Error ? e.message : String(e);
      await ch.sendJson(FRAME.ABORT, { reason }).catch(() => {});
      ch.close();
    }
    if (o.signal?.aborted) throw cancelledBy(o.signal, 'migration cancelled');
    // the destination's own reason, when it sent one, rather than what its leaving broke here
    const peer = ch.error;
    if (peer instanceof MigrateError && peer.code === 'PEER') throw peer;
    throw lost instanceof MigrateError && lost.code === 'CONNECTION' ? lost : e;
  } finally {
    background.restore();
    o.signal?.removeEventListener('abort', onAbort);
    session?.close();
  }
}

/**
 * What the destination pre-builds from (migrate/prebuild.ts): the root's private anonymous VMAs as
 * /proc/PID/maps shows them from outside (no freeze), [start, end, prot] each; the stack is left to the
 * restore. Undefined when the maps cannot be read (the target exiting: the pre-dump says so).
 */
function previewOf(
  pid: number,
  shellJob: boolean,
): { pid: number; shellJob: boolean; vmas: number[][] } | undefined {
  let maps: Vma[];
  try {
    maps = readMaps(pid);
  } catch {
    return undefined;
  }
  const anon = (v: Vma) =>
    v.private && v.inode === 0 && (v.path === '' || v.path === '[heap]' || v.path.startsWith('[anon:'));
  const prot = (v: Vma) => (v.read ? PROT.READ : 0) | (v.write ? PROT.WRITE : 0) | (v.exec ? PROT.EXEC : 0);
  return { pid, shellJob, vmas: maps.filter(anon).map((v) => [v.start, v.end, prot(v)]) };
}

/** Files of a set that stay at the source: logs, and ckpt's own bookkeeping (tracking, what was sent). */
function staysHere(name: string): boolean {
  return name.endsWith('.log.bin') || name.startsWith('.') || name.startsWith('ckpt-') || name === 'parent';
}

/** Send every image file of `dir` (inventory.img last), then SET_DONE; waits for SET_OK unless `!wait`. */
async function sendSet(ch: Channel, dir: string, n: number, wait = true): Promise<void> {
  const names = readdirSync(dir)
    .filter((f) => !staysHere(f) && f !== 'inventory.img' && statSync(join(dir, f)).isFile())
    .sort();
  names.push('inventory.img');
  for (const name of names)
    await ch.send(FRAME.FILE, encodeFilePayload(name, readFileSync(join(dir, name))), true);
  await ch.sendJson(FRAME.SET_DONE, { n });
  if (wait) await ch.expect(FRAME.SET_OK);
}
