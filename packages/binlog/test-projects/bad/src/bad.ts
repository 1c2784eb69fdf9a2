import { log } from './log.js';

const n = 'str';
log.info('n=%d', n);
log.warn('%s and %s', 'one');
log.error('rate %q', 1);
log.info('ok %s', 'fine');
