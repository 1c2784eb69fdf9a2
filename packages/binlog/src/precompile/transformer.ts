/**
 * The pass as a TypeScript transformer, for builds that emit through the compiler API.
 *
 * Each analysed call `log.info("user %s paid %d", a, b)` becomes `log.info(__binlogFormats[17], a, b)`
 * (format/call-id.ts: a pre-compiled format is never passed as a number), and every file with
 * such a call gets `import './binlog-dict.js'` (a relative path to the generated module) after its
 * prologue directives; the compiler's module transform turns it into `require(...)` for CommonJS output.
 *
 * Build-script use (see PRECOMPILE.md):
 * ```
 * import ts from 'typescript';
 * import { binlogTransformer } from 'binlog/precompile';
 * const cfg = ts.getParsedCommandLineOfConfigFile('tsconfig.json', {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic() {} });
 * const program = ts.createProgram({ rootNames: cfg.fileNames, options: cfg.options });
 * program.emit(undefined, undefined, undefined, false, { before: [binlogTransformer(program, {})] });
 * ```
 * `binlogTransformer(program, options)` has the `(program, config)` shape of ts-patch "program"
 * transformers, so it can also be named in a tsconfig `plugins` entry under ts-patch.
 *
 * @example
 * const pre = precompileProgram(program, { dictPath: 'binlog.dict.json' });
 * if (pre.analysis.diagnostics.length === 0) { pre.write(); program.emit(undefined, undefined, undefined, false, { before: [pre.transformer] }); }
 */
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import type { Dictionary } from '../codec/dictionary.js';
import { FORMATS_GLOBAL } from '../format/index.js';
import { type Analysis, analyzeProgram, isDirective, ownSourceFiles } from './analysis.js';
import { formatDiagnostic } from './diagnostic.js';
import { DICT_MODULE_NAME, readPreviousDictionary, writeDictionaryFiles } from './dictionary-files.js';
import { PrecompileError } from './errors.js';
import { type ModuleFormat, moduleFormatAt, relativeSpecifier } from './module-format.js';

export interface PrecompileOptions {
  /** Base of the file names in the dictionary, and of the defaults below; default: the program's cwd. */
  readonly projectDir?: string | undefined;
  /** Dictionary JSON: read as the previous build's ids when present, then written; default `<projectDir>/binlog.dict.json`. */
  readonly dictPath?: string | undefined;
  /** The previous dictionary, when given directly (then `dictPath` is only written). */
  readonly previous?: Dictionary | undefined;
  /** The generated module; default `<outDir or projectDir>/binlog-dict.js`. */
  readonly modulePath?: string | undefined;
  /** Drop formats that no call uses any more (default: keep them, see id-table.ts). */
  readonly prune?: boolean | undefined;
  /** Check argument types (default true). */
  readonly checkTypes?: boolean | undefined;
}

export interface BinlogTransformerOptions extends PrecompileOptions {
  /** Write the dictionary JSON and the generated module now (default true). */
  readonly write?: boolean | undefined;
}

/** The analysed program and what it takes to emit it. */
export interface PrecompiledProgram {
  readonly analysis: Analysis;
  readonly dictionary: Dictionary;
  readonly dictPath: string;
  readonly modulePath: string;
  /** The `before` transformer that rewrites the calls. */
  readonly transformer: ts.TransformerFactory<ts.SourceFile>;
  /** Write the dictionary JSON and the generated module. */
  write(): void;
}

/**
 * Analyse `program` and prepare its rewrite; nothing is written until `write()`.
 *
 * @example
 * const pre = precompileProgram(program, { projectDir: '/repo/app' });
 * pre.dictionary.formats.length;
 */
export function precompileProgram(program: ts.Program, options: PrecompileOptions = {}): PrecompiledProgram {
  const opts = program.getCompilerOptions();
  const projectDir = options.projectDir ?? program.getCurrentDirectory();
  const dictPath = options.dictPath ?? join(projectDir, 'binlog.dict.json');
  const modulePath = options.modulePath ?? join(opts.outDir ?? projectDir, DICT_MODULE_NAME);
  const previous = options.previous ?? readPreviousDictionary(dictPath);
  const analysis = analyzeProgram(program, { rootDir: projectDir, previous, checkTypes: options.checkTypes });
  const dictionary = analysis.table.toDictionary(options.prune === true);
  // Every emitted file, not only the root names: files reached through imports are emitted too.
  const fileNames = ownSourceFiles(program).map((sf) => sf.fileName);
  const cmd: ts.ParsedCommandLine = { options: opts, fileNames, errors: [] };
  const ignoreCase = !ts.sys.useCaseSensitiveFileNames;
  const specifierFor = (fileName: string): string => {
    const out = ts.getOutputFileNames(cmd, fileName, ignoreCase).find((f) => /\.[cm]?jsx?$/.test(f));
    return relativeSpecifier(dirname(out ?? fileName), modulePath, relative);
  };
  return {
    analysis,
    dictionary,
    dictPath,
    modulePath,
    transformer: callRewriter(analysis, specifierFor),
    write: () =>
      writeDictionaryFiles(dictionary, { dictPath, modulePath, format: dictModuleFormat(opts, modulePath) }),
  };
}

/**
 * The transformer factory for a build script: analyses `program`, throws a PrecompileError
 * (`BUILD_ERRORS`, one `file:line:col: message` line per problem) when a log call is wrong, writes the
 * dictionary files unless `write: false`, and returns the `before` transformer.
 *
 * @example
 * program.emit(undefined, undefined, undefined, false, { before: [binlogTransformer(program, { dictPath: 'binlog.dict.json' })] });
 */
export function binlogTransformer(
  program: ts.Program,
  options: BinlogTransformerOptions = {},
): ts.TransformerFactory<ts.SourceFile> {
  const pre = precompileProgram(program, options);
  if (pre.analysis.diagnostics.length > 0) {
    throw new PrecompileError(
      'BUILD_ERRORS',
      pre.analysis.diagnostics.map((d) => formatDiagnostic(d)).join('\n'),
    );
  }
  if (options.write !== false) pre.write();
  return pre.transformer;
}

function dictModuleFormat(opts: ts.CompilerOptions, modulePath: string): ModuleFormat {
  const m = opts.module;
  const K = ts.ModuleKind;
  if (m === K.CommonJS || m === K.AMD || m === K.UMD || m === K.System) return 'cjs';
  if (m === K.ES2015 || m === K.ES2020 || m === K.ES2022 || m === K.ESNext || m === K.Preserve) return 'esm';
  return moduleFormatAt(modulePath);
}

function callRewriter(
  analysis: Analysis,
  specifierFor: (fileName: string) => string,
): ts.TransformerFactory<ts.SourceFile> {
  return (context) => {
    const f = context.factory;
    return (sf) => {
      const original = ts.getOriginalNode(sf, ts.isSourceFile);
      if (!analysis.callsByFile.has(original.fileName)) return sf;
      const visit = (node: ts.Node): ts.Node => {
        const visited = ts.visitEachChild(node, visit, context);
        if (!ts.isCallExpression(visited)) return visited;
        const id = analysis.ids.get(ts.getOriginalNode(node) as ts.CallExpression);
        if (id === undefined) return visited;
        const [, ...rest] = visited.arguments;
        const formatId = f.createElementAccessExpression(
          f.createIdentifier(FORMATS_GLOBAL),
          f.createNumericLiteral(id),
        );
        return f.updateCallExpression(visited, visited.expression, visited.typeArguments, [
          formatId,
          ...rest,
        ]);
      };
      const out = ts.visitEachChild(sf, visit, context);
      const stmts = out.statements;
      let k = 0;
      while (k < stmts.length && isDirective(stmts[k] as ts.Statement)) k++;
      const imp = f.createImportDeclaration(
        undefined,
        undefined,
        f.createStringLiteral(specifierFor(original.fileName)),
      );
      return f.updateSourceFile(out, [...stmts.slice(0, k), imp, ...stmts.slice(k)]);
    };
  };
}
