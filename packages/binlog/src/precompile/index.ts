/**
 * precompile/: the source pass of mode 2. Log calls with a literal format get a stable numeric id in
 * place of the format; the formats go to a dictionary (JSON for the decoder and the next build, and a
 * generated module that registers it with the runtime). Usable as a CLI (`precompileMain`), over a
 * TypeScript project (`precompileProject`), over JavaScript files (`precompileJsDir`) and as a
 * TypeScript transformer for build scripts (`binlogTransformer`). See PRECOMPILE.md.
 *
 * @example
 * import { precompileMain } from 'binlog/precompile';
 * process.exitCode = await precompileMain(['--project', 'tsconfig.json']);
 */
export { type Analysis, type AnalysisOptions, analyzeProgram } from './analysis.js';
export { LOG_METHODS } from './call-site.js';
export { PRECOMPILE_USAGE, precompileMain } from './command.js';
export { type BuildDiagnostic, formatDiagnostic } from './diagnostic.js';
export {
  DICT_MODULE_NAME,
  dictionaryJson,
  dictModuleSource,
  readPreviousDictionary,
  writeDictionaryFiles,
} from './dictionary-files.js';
export { type JsDirOptions, precompileJsDir } from './emitted-js.js';
export { PrecompileError, type PrecompileErrorCode } from './errors.js';
export { IdTable } from './id-table.js';
export { type PassResult, type ProjectOptions, precompileProject } from './project.js';
export {
  type BinlogTransformerOptions,
  binlogTransformer,
  type PrecompiledProgram,
  type PrecompileOptions,
  precompileProgram,
} from './transformer.js';
