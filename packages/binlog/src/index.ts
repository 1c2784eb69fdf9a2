/** binlog: a binary logger. See README.md. */
export const VERSION = '0.1.0';
