/**
 * report/: turns a RUN.json (what benchmarks and the demo record) into one self-contained HTML page with
 * inline SVG charts. Imports nothing of ckpt: only this folder and Node's builtins.
 *
 * @example
 * import { parseRun, renderReport } from '../report/index.js';
 * const html = renderReport(parseRun(text));
 */
export { ReportError, type ReportErrorCode } from './errors.js';
export { escapeMarkup } from './escape.js';
export { renderReport } from './page.js';
export {
  type ChainCheck,
  type IterationResult,
  type ModeResult,
  type PageMode,
  parseRun,
  RUN_VERSION,
  type Run,
  type RunHost,
  type RunSummary,
  type Scenario,
  validateRun,
} from './schema.js';
export { formatBytes, formatCount, formatMs, formatRate } from './units.js';
