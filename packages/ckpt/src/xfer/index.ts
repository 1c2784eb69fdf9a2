/**
 * xfer/: where dumped pages go, behind the PageSink interface (sink.ts), one file per backend:
 * LocalSink (an image directory), NullSink (discard, for dry runs and benchmarks), PageServerClient (a
 * page server over TCP, optionally TLS); the one way a dump opens them (page-target.ts: a PageTarget ->
 * openPageSession, close() after the last task); and the page server itself (PageServer).
 *
 * @example
 * const sink = await openPageSession(dryRun ? { kind: 'discard' } : { kind: 'images' }, dir);
 */
export {
  availableCodecs,
  CODEC_NAMES,
  type Codec,
  type CodecName,
  DEFAULT_CODEC,
  isCodecName,
  MAX_CODEC_BLOCK,
  negotiateCodec,
  openCodec,
} from './codec.js';
export type { HeldPages } from './held-pages.js';
export * from './local.js';
export * from './null.js';
export { type GatheringStream, type PageClientOptions, PageServerClient } from './page-client.js';
export { PageServer, type PageServerOptions, type SessionReport } from './page-server.js';
export { PageServerSession, type SessionCounts } from './page-server-session.js';
export * from './page-target.js';
export * from './sink.js';
export { clientTlsOptions, loadTlsFiles, serverTlsOptions, type TlsFiles, type TlsPaths } from './tls.js';
export { WireError, type WireErrorCode } from './wire-errors.js';
