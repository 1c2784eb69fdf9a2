import { createLogger, type Logger } from 'binlog';

export type { Logger };

/** The sample's logger: every level, to the file named by SAMPLE_LOG (default sample.blog). */
export const log: Logger = createLogger({
  dest: process.env.SAMPLE_LOG ?? 'sample.blog',
  level: 'trace',
  fields: { app: 'sample' },
});
