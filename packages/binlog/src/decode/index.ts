/** decode/: binlog files (+ dictionary) -> events, text or JSON lines, filters, follow, stats. */
export { DecodeError } from './errors.js';
export { type FilterOptions, makeFilter, parseLevel, parseSince } from './filter.js';
export { LineFormatter } from './line.js';
export { decodeFile, type FollowOptions, followLogFile, readLogFile, readLogFiles } from './log-file.js';
export { LogStats, type StatsReport } from './log-stats.js';
export { type CompiledFormat, compileFormat, formatMessage, renderArg } from './message.js';
export { type DecodedEvent, LogReader, type ReaderOptions, type ReaderStats } from './reader.js';
