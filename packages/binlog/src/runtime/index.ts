/** runtime/: the logger that writes binlog records. */
export { type Context, Core, type CoreOptions } from './core.js';
export { Destination } from './destination.js';
export { LoggerError } from './errors.js';
export { registerDictionary, registeredDictionary } from './format-table.js';
export { LEVELS, type LevelName, type LevelOption, levelNumber } from './level.js';
export { createLogger, Logger, type LoggerOptions } from './logger.js';
