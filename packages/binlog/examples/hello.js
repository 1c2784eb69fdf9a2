// A small program that logs through binlog, then decodes its own log.
// Run from the repository root: npm run build && npm run demo -w binlog   (or: node packages/binlog/examples/hello.js)
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFile, LineFormatter } from '../dist/decode/index.js';
import { createLogger } from '../dist/index.js';

const file = join(mkdtempSync(join(tmpdir(), 'binlog-hello-')), 'hello.blog');
const log = createLogger({ dest: file, level: 'debug', fields: { app: 'hello' } });

log.info('user %s paid %d cents in %f s', 'bob', 1200, 0.35);
const req = log.child({ req: 7 });
req.debug('cache %s for key %j', 'miss', { user: 'bob' });
req.warn('slow request: %d ms (limit %d ms)', 1532, 1000);
log.info('values round-trip: %d %d %d %s', Number.NaN, -0, 2n ** 64n, 'héllo 😀');
log.info('extra arguments are appended:', 1, 'two', { three: 3 });
for (let i = 0; i < 1000; i++) log.trace('not recorded: below the level (%d)', i);
log.error('done after %d calls', 6);
log.close();

const { events, stats } = decodeFile(file);
const fmt = new LineFormatter();
console.log(
  `wrote ${file}: ${statSync(file).size} bytes, ${stats.records} records, ${stats.skippedBytes} bytes skipped\n`,
);
console.log('text (binlog decode FILE):');
for (const e of events) console.log(`  ${fmt.text(e)}`);
console.log('\nJSON lines with pino keys (binlog decode --json FILE):');
for (const e of events.slice(0, 2)) console.log(`  ${fmt.json(e)}`);
console.log(`\ntry: npx binlog decode ${file} --level warn`);
