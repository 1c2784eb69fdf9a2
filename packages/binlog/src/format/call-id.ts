/**
 * How a pre-compiled call passes its format: never as a number (a number is a message,
 * `log.info(12345)`), but as the dictionary's format object, read from a global table that only the
 * runtime's registerDictionary() fills. `binlog precompile` rewrites `log.info('user %s', name)` to
 * `log.info(__binlogFormats[17], name)`; the generated module that registers the dictionary is imported
 * first, so the table is filled before any rewritten call runs.
 *
 * @example
 * formatIdExpression(17); // '__binlogFormats[17]'
 */

/** Name of the global table of pre-compiled formats (non-enumerable, one per thread). */
export const FORMATS_GLOBAL = '__binlogFormats';

/** The JavaScript expression a rewritten call passes for dictionary id `id`. */
export function formatIdExpression(id: number): string {
  return `${FORMATS_GLOBAL}[${id}]`;
}
