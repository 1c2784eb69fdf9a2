/** runtime/: the logger that writes binlog records. */
export { type Context, Core, type CoreOptions } from './core.js';
export { Destination } from './destination.js';
export { LoggerError } from './errors.js';
export { FormatEntry, formatId, registerDictionary, registeredDictionary } from './format-table.js';
export { LEVELS, type LevelName, type LevelOption, LevelTable, levelNumber } from './level.js';
export { type ChildOptions, createLogger, type LogFn, Logger, type LoggerOptions } from './logger.js';
export type { RedactOption } from './redact.js';
export { type Serializer, stdSerializers } from './serializers.js';
