#!/usr/bin/env node
import { log } from './log.mjs';

/** @param {number} cents */
export function pay(cents) {
  log.info('paid %d cents', cents);
}

/** @param {string} who */
export function greet(who) {
  log.info(
    `hello
%s`,
    who,
  );
}

pay(5);
greet('ann');
log.warn('untyped %s', globalThis.whatever);
log.info(process.argv[2] ?? 'not %s literal', 'x');
