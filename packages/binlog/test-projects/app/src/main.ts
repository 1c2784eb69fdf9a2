import { log } from './log.js';
import { Worker } from './worker.js';

log.info('app started with %d workers', 2);
log.debug(`a template literal without substitutions`);
for (const name of ['alpha', 'beta']) new Worker(name).run(3);
log.warn('disk %s is %f%% full', '/var', 93.5);
const dynamic = process.env.SAMPLE_FORMAT ?? 'dynamic format %s';
log.info(dynamic, 'stays mode 1');
log.info('user %s paid %d cents', 'ann', 1250);
log.info('user %s paid %d cents', 'bob', 990n);
log.error('summary %j', { ok: true, workers: 2 });
console.info('console is not binlog: %d', 1);
log.fatal('bye');
log.close();
