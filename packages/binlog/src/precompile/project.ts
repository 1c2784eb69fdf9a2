/**
 * Project mode: compile a TypeScript project (its tsconfig) with the pass applied, as `tsc -p` would,
 * or only check it.
 *
 * Steps: read the tsconfig -> build the program -> TypeScript's own errors + the log call checks ->
 * (nothing written if there is any error) -> write the dictionary JSON and the generated module ->
 * emit with the `before` transformer.
 *
 * @example
 * const r = precompileProject({ project: 'tsconfig.json', dictPath: 'binlog.dict.json' });
 * for (const d of r.diagnostics) console.error(formatDiagnostic(d));
 */
import { dirname, resolve } from 'node:path';
import ts from 'typescript';
import type { Dictionary } from '../codec/dictionary.js';
import { type BuildDiagnostic, fromTsDiagnostic } from './diagnostic.js';
import { PrecompileError } from './errors.js';
import { precompileProgram } from './transformer.js';

export interface ProjectOptions {
  /** Path of the tsconfig.json. */
  readonly project: string;
  /** Dictionary JSON (read, then written); default beside the tsconfig. */
  readonly dictPath?: string | undefined;
  /** Overrides the tsconfig's outDir. */
  readonly outDir?: string | undefined;
  /** Only check; write nothing. */
  readonly check?: boolean | undefined;
  readonly prune?: boolean | undefined;
  readonly checkTypes?: boolean | undefined;
}

export interface PassResult {
  /** Errors; when there is any, nothing was written. */
  readonly diagnostics: readonly BuildDiagnostic[];
  /** The dictionary (also when only checking). */
  readonly dictionary: Dictionary | undefined;
  readonly dictPath: string | undefined;
  /** Calls rewritten (or that would be). */
  readonly callCount: number;
  /** Files holding such calls. */
  readonly fileCount: number;
  /** Calls left alone because their method cannot take an id (see Analysis.leftAlone). */
  readonly leftAlone: readonly BuildDiagnostic[];
  /** Warnings: calls left in mode 1 (see Analysis.mode1). */
  readonly mode1: readonly BuildDiagnostic[];
}

/**
 * Check or build a project with the pass.
 *
 * @example
 * const r = precompileProject({ project: 'tsconfig.json', check: true });
 * for (const d of r.diagnostics) console.error(formatDiagnostic(d));
 */
export function precompileProject(options: ProjectOptions): PassResult {
  const configPath = resolve(options.project);
  const projectDir = dirname(configPath);
  let unrecoverable: ts.Diagnostic | undefined;
  const host: ts.ParseConfigFileHost = {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      unrecoverable = d;
    },
  };
  const overrides: ts.CompilerOptions =
    options.outDir === undefined ? {} : { outDir: resolve(options.outDir) };
  const cfg = ts.getParsedCommandLineOfConfigFile(configPath, overrides, host);
  if (!cfg || unrecoverable) {
    const why = unrecoverable
      ? ts.flattenDiagnosticMessageText(unrecoverable.messageText, ' ')
      : 'unreadable';
    throw new PrecompileError('CONFIG', `${options.project}: ${why}`);
  }
  const configErrors = cfg.errors.filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (configErrors.length > 0) return failed(configErrors.map(fromTsDiagnostic));
  if (cfg.options.noEmit && !options.check) {
    throw new PrecompileError(
      'CONFIG',
      `${options.project} sets noEmit: use --check, or a tsconfig that emits`,
    );
  }
  const program = ts.createProgram({
    rootNames: cfg.fileNames,
    options: cfg.options,
    projectReferences: cfg.projectReferences,
  });
  const tsErrors = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.category === ts.DiagnosticCategory.Error)
    .map(fromTsDiagnostic);
  const pre = precompileProgram(program, {
    projectDir,
    dictPath: options.dictPath === undefined ? undefined : resolve(options.dictPath),
    prune: options.prune,
    checkTypes: options.checkTypes,
  });
  const diagnostics = [...tsErrors, ...pre.analysis.diagnostics];
  const result = {
    diagnostics,
    dictionary: pre.dictionary,
    dictPath: pre.dictPath,
    callCount: pre.analysis.ids.size,
    fileCount: pre.analysis.callsByFile.size,
    leftAlone: pre.analysis.leftAlone,
    mode1: pre.analysis.mode1,
  };
  if (diagnostics.length > 0 || options.check) return result;
  pre.write();
  const emitted = program.emit(undefined, undefined, undefined, false, { before: [pre.transformer] });
  const emitErrors = emitted.diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
  return { ...result, diagnostics: emitErrors.map(fromTsDiagnostic) };
}

function failed(diagnostics: BuildDiagnostic[]): PassResult {
  return {
    diagnostics,
    dictionary: undefined,
    dictPath: undefined,
    callCount: 0,
    fileCount: 0,
    leftAlone: [],
    mode1: [],
  };
}
