/**
 * The analysis half of the pass: find every log call with a literal format in a program, check it, and
 * give it an id. The rewrite (transformer.ts for TypeScript emit, emitted-js.ts for JavaScript files)
 * only replaces what the analysis found, so a build with errors writes nothing.
 *
 * Files are visited in path order and calls in source order, so new ids are assigned the same way on
 * every run.
 *
 * @example
 * const a = analyzeProgram(program, { rootDir: '/repo/app' });
 * if (a.diagnostics.length === 0) writeDictionary(a.table.toDictionary());
 */
import { relative, sep } from 'node:path';
import ts from 'typescript';
import type { Dictionary } from '../codec/dictionary.js';
import { FormatError, parseFormat } from '../format/index.js';
import { checkArguments } from './arg-check.js';
import { logCallOf, type Mode1Call, mode1CallOf, ReceiverClassifier } from './call-site.js';
import { type BuildDiagnostic, diagnosticAt } from './diagnostic.js';
import { IdTable } from './id-table.js';

export interface AnalysisOptions {
  /** Dictionary file names are relative to this directory. */
  readonly rootDir: string;
  /** The previous build's dictionary: its formats keep their ids. */
  readonly previous?: Dictionary | undefined;
  /** Check argument types against the formats (default true); counts are always checked. */
  readonly checkTypes?: boolean | undefined;
  /** Only files for which this returns true are analysed (default: all the program's own files). */
  readonly include?: ((fileName: string) => boolean) | undefined;
}

export interface Analysis {
  /** The id of every call to rewrite, keyed by its original node. */
  readonly ids: ReadonlyMap<ts.CallExpression, number>;
  /** Per file name, the calls to rewrite, in source order. */
  readonly callsByFile: ReadonlyMap<string, readonly ts.CallExpression[]>;
  readonly diagnostics: readonly BuildDiagnostic[];
  /**
   * Calls with a logger method name and a literal format that are left alone because their method's
   * first parameter does not accept a number (see call-site.ts); not errors.
   */
  readonly leftAlone: readonly BuildDiagnostic[];
  /**
   * Warnings: logger calls the pass leaves in mode 1 because their first argument is no literal format
   * (a dynamic message, an object or error first); they still work, at mode 1's cost.
   */
  readonly mode1: readonly BuildDiagnostic[];
  readonly table: IdTable;
  /** Files visited. */
  readonly fileCount: number;
}

/** The program's own source files (no declaration files, default library or node_modules), by path. */
export function ownSourceFiles(program: ts.Program): ts.SourceFile[] {
  return program
    .getSourceFiles()
    .filter(
      (sf) =>
        !sf.isDeclarationFile &&
        !program.isSourceFileDefaultLibrary(sf) &&
        !program.isSourceFileFromExternalLibrary(sf) &&
        !sf.fileName.includes('/node_modules/'),
    )
    .sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0));
}

/** True for a prologue directive such as `'use strict';`. */
export function isDirective(st: ts.Statement): boolean {
  return ts.isExpressionStatement(st) && ts.isStringLiteral(st.expression);
}

/**
 * Find, check and number the log calls of `program`.
 *
 * @example
 * const a = analyzeProgram(program, { rootDir: '/repo/app' });
 * a.ids.size; // calls to rewrite
 */
export function analyzeProgram(program: ts.Program, options: AnalysisOptions): Analysis {
  const checker = options.checkTypes === false ? undefined : program.getTypeChecker();
  const classifier = new ReceiverClassifier(program, program.getTypeChecker());
  const table = new IdTable(options.previous);
  const ids = new Map<ts.CallExpression, number>();
  const callsByFile = new Map<string, ts.CallExpression[]>();
  const diagnostics: BuildDiagnostic[] = [];
  const leftAlone: BuildDiagnostic[] = [];
  const mode1: BuildDiagnostic[] = [];
  const files = ownSourceFiles(program).filter((sf) => options.include?.(sf.fileName) ?? true);
  for (const sf of files) {
    const rel = relative(options.rootDir, sf.fileName).split(sep).join('/');
    const calls: ts.CallExpression[] = [];
    const visit = (node: ts.Node): void => {
      const site = logCallOf(node, classifier);
      const m1 = site ? undefined : mode1CallOf(node, classifier);
      if (m1) mode1.push(diagnosticAt(m1.first, mode1Message(m1)));
      if (site && !site.acceptsId) {
        const param = checker ? declaredFormatType(checker, site.call) : 'its declared type';
        leftAlone.push(
          diagnosticAt(
            site.format,
            `${site.method}() left alone: its first parameter (${param}) cannot take an id`,
          ),
        );
      } else if (site) {
        try {
          const { specs } = parseFormat(site.text);
          diagnostics.push(...checkArguments(site, specs, checker));
          const line = sf.getLineAndCharacterOfPosition(site.format.getStart(sf)).line + 1;
          ids.set(site.call, table.idFor(site.text, rel, line));
          calls.push(site.call);
        } catch (e) {
          if (!(e instanceof FormatError)) throw e;
          diagnostics.push(diagnosticAt(site.format, e.message));
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
    if (calls.length > 0) callsByFile.set(sf.fileName, calls);
  }
  return { ids, callsByFile, diagnostics, leftAlone, mode1, table, fileCount: files.length };
}

function mode1Message(m: Mode1Call): string {
  return m.dynamic
    ? `warning: ${m.method}() stays in mode 1: its message is built at run time (each distinct text is written whole); pass the values as arguments: ${m.method}('user %s paid %d', id, cents)`
    : `warning: ${m.method}() stays in mode 1: its first argument is not a literal format (an object or error first is recorded on the general path)`;
}

function declaredFormatType(checker: ts.TypeChecker, call: ts.CallExpression): string {
  const p = checker.getResolvedSignature(call)?.getParameters()[0];
  if (!p) return 'none';
  const d = p.valueDeclaration;
  const rest = d && ts.isParameter(d) && d.dotDotDotToken ? '...' : '';
  return rest + checker.typeToString(checker.getTypeOfSymbolAtLocation(p, call));
}
