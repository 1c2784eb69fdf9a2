/**
 * binlog: a binary logger. A log call records a format id and the raw argument bytes; `binlog decode`
 * prints the text later. See README.md.
 *
 * @example
 * import { createLogger } from 'binlog';
 * const log = createLogger({ dest: 'app.blog', fields: { svc: 'api' } });
 * log.info('user %s paid %d cents in %f s', 'bob', 1200, 0.35);
 * log.close();
 * // $ npx binlog decode app.blog
 * // 2026-11-25T21:04:05.123Z INFO user bob paid 1200 cents in 0.35 s {"svc":"api"}
 */
export const VERSION = '0.1.0';
export { type Dictionary, type DictionaryEntry, makeDictionary, parseDictionary } from './codec/index.js';
export {
  type ChildOptions,
  createLogger,
  formatId,
  LEVELS,
  type LevelName,
  type LevelOption,
  type LogFn,
  Logger,
  LoggerError,
  type LoggerOptions,
  type RedactOption,
  registerDictionary,
  type Serializer,
  stdSerializers,
} from './runtime/index.js';
