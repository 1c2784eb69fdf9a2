/** Errors of the precompile/ layer. */

/**
 * Stable codes:
 * - `USAGE`: bad command-line arguments.
 * - `CONFIG`: the tsconfig cannot be read or parsed.
 * - `IO`: an input or output file cannot be read or written.
 * - `BAD_DICTIONARY`: the `--dict` input is not a valid binlog dictionary.
 * - `BUILD_ERRORS`: the sources have errors (log call mismatches or TypeScript errors); see `diagnostics`.
 */
export type PrecompileErrorCode = 'USAGE' | 'CONFIG' | 'IO' | 'BAD_DICTIONARY' | 'BUILD_ERRORS';

/**
 * A failure of the pre-compiler, with a stable `code`.
 *
 * @example
 * try { binlogTransformer(program, {}); } catch (e) {
 *   if (e instanceof PrecompileError && e.code === 'BUILD_ERRORS') console.error(e.message);
 * }
 */
export class PrecompileError extends Error {
  constructor(
    readonly code: PrecompileErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PrecompileError';
  }
}
