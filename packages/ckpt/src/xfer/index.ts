/**
 * xfer/: where dumped pages go, behind the PageSink interface (sink.ts), one file per backend:
 * LocalSink (an image directory), NullSink (discard, for dry runs and benchmarks), PageServerClient (a
 * page server over TCP, optionally TLS); and the page server itself (PageServer).
 *
 * @example
 * const sink: PageSink = dryRun ? new NullSink() : new LocalSink(ImageDir.create(dir));
 */
export * from './local.js';
export * from './null.js';
export { type PageClientOptions, PageServerClient } from './page-client.js';
export { PageServer, type PageServerOptions, type SessionReport } from './page-server.js';
export * from './sink.js';
export { loadTlsFiles, type TlsFiles, type TlsPaths } from './tls.js';
export { WireError, type WireErrorCode } from './wire-errors.js';
