/** format/: printf-style format parsing and argument kinds. */

export { FORMATS_GLOBAL, formatIdExpression } from './call-id.js';
export * from './errors.js';
export * from './parse.js';
