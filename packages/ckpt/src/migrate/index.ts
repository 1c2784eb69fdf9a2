/**
 * migrate/: live migration (`ckpt migrate` and `ckpt receive`): the protocol's frames (frame.ts), one
 * side of the connection (channel.ts), the source's page stream (page-stream.ts), the drivers of both
 * ends (source.ts, destination.ts) and the rule that decides when to stop iterating (convergence.ts).
 */
export * from './channel.js';
export * from './convergence.js';
export * from './destination.js';
export * from './errors.js';
export * from './frame.js';
export * from './page-stream.js';
export * from './source.js';
