/** testing/: support for ckpt's tests (C fixtures). Imported by *.test.ts only. */
export * from './fixture.js';
