/**
 * JavaScript mode: the pass over a directory of JavaScript files (a compiler's output, or hand-written
 * .js/.mjs/.cjs), written to another directory (or in place).
 *
 * Every file of the input tree is copied; the JavaScript files with log calls are edited as text, so
 * everything else stays byte for byte:
 * - the format literal becomes `__binlogFormats[<id>]` (format/call-id.ts), followed by as many newlines
 *   as the literal spanned;
 * - `import './binlog-dict.js';` (ESM) or `require('./binlog-dict.js');` (CommonJS) is inserted on the
 *   first line, after a `#!` line and the prologue directives (`'use strict'`).
 * Line numbers therefore do not move; columns move on the edited lines only, so existing source maps
 * stay right to the line.
 * Types come from JSDoc or inference; where they are `any` only the argument count is checked.
 *
 * @example
 * const r = precompileJsDir({ inDir: 'dist', outDir: 'dist-bin', dictPath: 'binlog.dict.json' });
 */
import { copyFileSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { formatIdExpression } from '../format/index.js';
import { analyzeProgram, isDirective } from './analysis.js';
import { fromTsDiagnostic } from './diagnostic.js';
import { DICT_MODULE_NAME, readPreviousDictionary, writeDictionaryFiles } from './dictionary-files.js';
import { PrecompileError } from './errors.js';
import { type ModuleFormat, moduleFormatAt, relativeSpecifier, sideEffectImport } from './module-format.js';
import type { PassResult } from './project.js';

export interface JsDirOptions {
  readonly inDir: string;
  readonly outDir: string;
  /** Dictionary JSON (read, then written); default `./binlog.dict.json`. */
  readonly dictPath?: string | undefined;
  readonly check?: boolean | undefined;
  readonly prune?: boolean | undefined;
  readonly checkTypes?: boolean | undefined;
}

const JS_FILE = /\.[cm]?js$/;

/**
 * Check or rewrite the JavaScript files under `inDir` into `outDir`.
 *
 * @example
 * const r = precompileJsDir({ inDir: 'dist', outDir: 'dist', check: true });
 * r.diagnostics.length; // 0 when every call matches its format
 */
export function precompileJsDir(options: JsDirOptions): PassResult {
  const inDir = resolve(options.inDir);
  const outDir = resolve(options.outDir);
  const dictPath = resolve(options.dictPath ?? 'binlog.dict.json');
  const all = listFiles(inDir, outDir);
  const dictModuleIn = join(inDir, DICT_MODULE_NAME);
  const jsFiles = all.filter((f) => JS_FILE.test(f) && f !== dictModuleIn);
  const program = ts.createProgram({
    rootNames: jsFiles,
    options: {
      allowJs: true,
      checkJs: false,
      noEmit: true,
      target: ts.ScriptTarget.ESNext,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      skipLibCheck: true,
    },
  });
  const previous = readPreviousDictionary(dictPath);
  const analysis = analyzeProgram(program, {
    rootDir: inDir,
    previous,
    checkTypes: options.checkTypes,
    include: (f) => f.startsWith(`${inDir}/`),
  });
  const dictionary = analysis.table.toDictionary(options.prune === true);
  const syntax = program
    .getSyntacticDiagnostics()
    .filter((d) => d.category === ts.DiagnosticCategory.Error)
    .map(fromTsDiagnostic);
  const result: PassResult = {
    diagnostics: [...syntax, ...analysis.diagnostics],
    dictionary,
    dictPath,
    callCount: analysis.ids.size,
    fileCount: analysis.callsByFile.size,
    leftAlone: analysis.leftAlone,
    mode1: analysis.mode1,
  };
  if (result.diagnostics.length > 0 || options.check) return result;
  const modulePath = join(outDir, DICT_MODULE_NAME);
  for (const file of all) {
    const target = join(outDir, relative(inDir, file));
    const calls = analysis.callsByFile.get(file);
    try {
      mkdirSync(dirname(target), { recursive: true });
      if (!calls) {
        if (target !== file) copyFileSync(file, target);
        continue;
      }
      const sf = program.getSourceFile(file);
      if (!sf) throw new Error('not parsed');
      const edits: Edit[] = calls.map((call) => {
        const fmt = call.arguments[0] as ts.Expression;
        const start = fmt.getStart(sf);
        const lines = sf.text.slice(start, fmt.end).split('\n').length - 1;
        const id = formatIdExpression(analysis.ids.get(call)!);
        return { start, end: fmt.end, text: `${id}${'\n'.repeat(lines)}` };
      });
      const spec = relativeSpecifier(dirname(target), modulePath, relative);
      edits.push({ start: importPosition(sf), end: importPosition(sf), text: importText(sf, target, spec) });
      writeFileSync(target, applyEdits(sf.text, edits));
    } catch (e) {
      throw new PrecompileError('IO', `cannot write ${target}: ${(e as Error).message}`, { cause: e });
    }
  }
  writeDictionaryFiles(dictionary, { dictPath, modulePath });
  return result;
}

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

function applyEdits(text: string, edits: Edit[]): string {
  const sorted = [...edits].sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  for (const e of sorted) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/** After a `#!` line and the prologue directives. */
function importPosition(sf: ts.SourceFile): number {
  let pos = sf.text.startsWith('#!') ? sf.text.indexOf('\n') + 1 || sf.text.length : 0;
  for (const st of sf.statements) {
    if (!isDirective(st)) break;
    pos = st.end;
  }
  return pos;
}

function importText(sf: ts.SourceFile, target: string, spec: string): string {
  const pos = importPosition(sf);
  const stmt = sideEffectImport(spec, fileFormat(sf, target));
  return pos > 0 && !sf.text.slice(0, pos).endsWith('\n') ? ` ${stmt}` : `${stmt} `;
}

function fileFormat(sf: ts.SourceFile, target: string): ModuleFormat {
  if (target.endsWith('.mjs')) return 'esm';
  if (target.endsWith('.cjs')) return 'cjs';
  const esmSyntax = sf.statements.some(
    (s) =>
      ts.isImportDeclaration(s) ||
      ts.isExportDeclaration(s) ||
      ts.isExportAssignment(s) ||
      (ts.canHaveModifiers(s) && ts.getModifiers(s)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)),
  );
  return esmSyntax ? 'esm' : moduleFormatAt(target);
}

function listFiles(dir: string, skip: string): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new PrecompileError('IO', `cannot read directory ${dir}: ${(e as Error).message}`, { cause: e });
  }
  for (const name of names.sort()) {
    if (name === 'node_modules') continue;
    const p = join(dir, name);
    if (p === skip && skip !== dir) continue;
    const st = statSafe(p);
    if (st === 'dir') out.push(...listFiles(p, skip));
    else if (st === 'file') out.push(p);
  }
  return out;
}

function statSafe(p: string): 'dir' | 'file' | 'other' {
  const st = statSync(p, { throwIfNoEntry: false });
  if (st?.isDirectory()) return 'dir';
  return st?.isFile() ? 'file' : 'other';
}
