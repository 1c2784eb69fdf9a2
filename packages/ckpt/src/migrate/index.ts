/**
 * migrate/: live migration (issue "ckpt migrate"): the convergence rule so far; the source and destination
 * drivers over xfer/ come next.
 */
export * from './convergence.js';
