/**
 * A build diagnostic of the pre-compiler, printed as one `file:line:col: message` line (1-based line and
 * column, file relative to the working directory), as compilers print theirs.
 *
 * @example
 * formatDiagnostic({ file: 'src/a.ts', line: 3, col: 14, message: "'%d' wants a number, got string" });
 * // => "src/a.ts:3:14: '%d' wants a number, got string"
 */
import { relative } from 'node:path';
import ts from 'typescript';

export interface BuildDiagnostic {
  /** Absolute or relative path of the source file. */
  readonly file: string;
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly col: number;
  readonly message: string;
}

/**
 * One line, `file:line:col: message`, with the file relative to `cwd`.
 *
 * @example
 * formatDiagnostic({ file: '/repo/src/a.ts', line: 3, col: 14, message: 'bad' }, '/repo'); // 'src/a.ts:3:14: bad'
 */
export function formatDiagnostic(d: BuildDiagnostic, cwd = process.cwd()): string {
  const file = d.file.startsWith('/') ? relative(cwd, d.file) || d.file : d.file;
  return `${file}:${d.line}:${d.col}: ${d.message.replace(/\s*\n\s*/g, ' ')}`;
}

/** A diagnostic at `node` in its source file. */
export function diagnosticAt(node: ts.Node, message: string): BuildDiagnostic {
  const sf = node.getSourceFile();
  const pos = sf.getLineAndCharacterOfPosition(node.getStart(sf));
  return { file: sf.fileName, line: pos.line + 1, col: pos.character + 1, message };
}

/** A TypeScript compiler diagnostic in the same shape (file-less ones get the file `tsc`). */
export function fromTsDiagnostic(d: ts.Diagnostic): BuildDiagnostic {
  const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
  if (!d.file || d.start === undefined) return { file: 'tsc', line: 0, col: 0, message };
  const pos = d.file.getLineAndCharacterOfPosition(d.start);
  return {
    file: d.file.fileName,
    line: pos.line + 1,
    col: pos.character + 1,
    message: `TS${d.code}: ${message}`,
  };
}
