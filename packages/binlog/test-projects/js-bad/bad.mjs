const log = { info() {} };

/** @type {string} */
const s = String(Date.now());
log.info('two %s %s', 'a');
log.info('n=%d', s);
