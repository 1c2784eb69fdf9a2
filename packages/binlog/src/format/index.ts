/** format/: printf-style format parsing and argument kinds. */
export * from './errors.js';
export * from './parse.js';
