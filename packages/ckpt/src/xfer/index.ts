/**
 * xfer/: where dumped pages go, behind the PageSink interface: LocalSink (an image directory), NullSink
 * (discard, for dry runs and benchmarks). The page-server client comes later.
 *
 * @example
 * const sink: PageSink = dryRun ? new NullSink() : new LocalSink(ImageDir.create(dir));
 */
export * from './local.js';
export * from './null.js';
export * from './sink.js';
