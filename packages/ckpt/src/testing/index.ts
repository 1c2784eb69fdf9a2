/** testing/: support for ckpt's tests (C fixtures, scratch space, the CLI, memory). Imported by *.test.ts only. */
export * from './cli.js';
export * from './crit.js';
export * from './fixture.js';
export * from './netns-pair.js';
export * from './page-sample.js';
export * from './page-snapshot.js';
export * from './require.js';
export * from './restorable.js';
export * from './rng.js';
export * from './scratch.js';
export * from './tls-certs.js';
export * from './userfaultfds.js';
export * from './writer.js';
