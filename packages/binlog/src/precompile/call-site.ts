/**
 * Which calls are binlog log calls with a literal format, the ones the pass rewrites.
 *
 * A call qualifies when:
 * - it is `<receiver>.<method>(<format>, ...args)` with `method` one of trace, debug, info, warn, error,
 *   fatal, on any receiver expression (`log`, `child`, `this.log`, `a.b().c`...), optional chains included;
 * - `<format>` is a string literal or a template literal without substitutions;
 * - the receiver is not the global `console`, and the method is not declared only by someone else's
 *   library: when the type checker resolves the method to declarations that all live in the default
 *   library or in a package under node_modules other than `binlog` (pino, winston...), the call is left
 *   alone. A method of the `binlog` package, of the project's own code, or one the checker cannot
 *   resolve (plain JavaScript, `any`) qualifies;
 * - the rewritten call still works (`acceptsId`): a method of the `binlog` package always does (it takes
 *   the pre-compiled format object `__binlogFormats[17]`); for another method, when the checker resolves the call's signature,
 *   its first parameter must accept a number. Calls that fail only this test are reported as left alone. A method of the project declared `error(message: string)` is
 *   therefore not a logger and is left alone; one declared `info(f: string | number, ...a: unknown[])`,
 *   `(...args: unknown[])` or untyped is rewritten.
 *
 * @example
 * const site = logCallOf(node, classifier);
 * if (site) console.log(site.method, site.text); // "info" "user %s paid %d"
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ts from 'typescript';

/**
 * The logger methods a rewritten call may use.
 *
 * @example
 * LOG_METHODS.has('info'); // true
 */
export const LOG_METHODS: ReadonlySet<string> = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

/** A log call with a literal format. */
export interface LogCall {
  readonly call: ts.CallExpression;
  readonly method: string;
  /** The literal first argument. */
  readonly format: ts.StringLiteral | ts.NoSubstitutionTemplateLiteral;
  /** Its value (escapes resolved). */
  readonly text: string;
  /**
   * False when the checker knows the method's first parameter cannot take a number (e.g. an interface
   * of the project declaring `info(format: string, ...)`): the call is then left as it is, unchecked.
   */
  readonly acceptsId: boolean;
}

/** Decides whether a method symbol belongs to a foreign logger (see the module comment). */
export class ReceiverClassifier {
  readonly #packageNames = new Map<string, string | null>();

  constructor(
    private readonly program: ts.Program,
    private readonly checker: ts.TypeChecker | undefined,
  ) {}

  /** True when `name` (the method name of a call) is declared only outside binlog and the project. */
  isForeign(name: ts.MemberName): boolean {
    const sym = this.checker?.getSymbolAtLocation(name);
    const decls = sym?.declarations;
    if (!decls || decls.length === 0) return false;
    return decls.every((d) => this.#isForeignFile(d.getSourceFile()));
  }

  /** True when `name` resolves to declarations of the binlog package only (its Logger's methods). */
  isBinlog(name: ts.MemberName): boolean {
    const decls = this.checker?.getSymbolAtLocation(name)?.declarations;
    if (!decls || decls.length === 0) return false;
    return decls.every((d) => this.#packageName(dirname(d.getSourceFile().fileName)) === 'binlog');
  }

  /**
   * True unless the checker knows that the call's first parameter cannot take an id: binlog's own
   * methods always can; a project's wrapper can when it is typed to take a number (or anything), and then
   * must forward its first argument to binlog unchanged.
   */
  acceptsId(call: ts.CallExpression): boolean {
    const checker = this.checker;
    if (!checker) return true;
    const callee = call.expression;
    if (ts.isPropertyAccessExpression(callee) && this.isBinlog(callee.name)) return true;
    const sig = checker.getResolvedSignature(call);
    if (!sig || sig.declaration === undefined) return true;
    const first = sig.getParameters()[0];
    if (!first) return true;
    let type = checker.getTypeOfSymbolAtLocation(first, call);
    const decl = first.valueDeclaration;
    if (decl && ts.isParameter(decl) && decl.dotDotDotToken) {
      if (!checker.isArrayType(type) && !checker.isTupleType(type)) return true;
      const elem = checker.getTypeArguments(type as ts.TypeReference)[0];
      if (!elem) return true;
      type = elem;
    }
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return true;
    return checker.isTypeAssignableTo(checker.getNumberType(), type);
  }

  /** True when the checker types `e` as a string. */
  isStringTyped(e: ts.Expression): boolean {
    const checker = this.checker;
    if (!checker) return false;
    return (checker.getTypeAtLocation(e).flags & ts.TypeFlags.StringLike) !== 0;
  }

  #isForeignFile(sf: ts.SourceFile): boolean {
    if (this.program.isSourceFileDefaultLibrary(sf)) return true;
    if (this.#packageName(dirname(sf.fileName)) === 'binlog') return false;
    return this.program.isSourceFileFromExternalLibrary(sf) || sf.fileName.includes('/node_modules/');
  }

  #packageName(dir: string): string | null {
    const known = this.#packageNames.get(dir);
    if (known !== undefined) return known;
    let name: string | null = null;
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      name = typeof pkg.name === 'string' ? pkg.name : '';
    } catch {
      const up = dirname(dir);
      name = up === dir ? null : this.#packageName(up);
    }
    this.#packageNames.set(dir, name);
    return name;
  }
}

/** `node` as a call of a logger method (not console's, not a foreign library's) with its first argument. */
function loggerMethodCall(
  node: ts.Node,
  classifier: ReceiverClassifier,
): { call: ts.CallExpression; method: string; first: ts.Expression } | undefined {
  if (!ts.isCallExpression(node)) return undefined;
  const callee = node.expression;
  if (!ts.isPropertyAccessExpression(callee)) return undefined;
  const method = callee.name.text;
  if (!LOG_METHODS.has(method)) return undefined;
  const first = node.arguments[0];
  if (!first) return undefined;
  if (ts.isIdentifier(callee.expression) && callee.expression.text === 'console') return undefined;
  if (classifier.isForeign(callee.name)) return undefined;
  return { call: node, method, first };
}

function isLiteralFormat(e: ts.Expression): e is ts.StringLiteral | ts.NoSubstitutionTemplateLiteral {
  return ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e);
}

/** The log call `node` is, or undefined. */
export function logCallOf(node: ts.Node, classifier: ReceiverClassifier): LogCall | undefined {
  const m = loggerMethodCall(node, classifier);
  if (!m || !isLiteralFormat(m.first)) return undefined;
  const format = m.first;
  return {
    call: m.call,
    method: m.method,
    format,
    text: format.text,
    acceptsId: classifier.acceptsId(m.call),
  };
}

/** A log call the pass leaves in mode 1 (its first argument is no literal format), with the reason. */
export interface Mode1Call {
  readonly call: ts.CallExpression;
  readonly method: string;
  /** The first argument. */
  readonly first: ts.Expression;
  /** True for a message built at run time (a template with substitutions, a concatenation, a string). */
  readonly dynamic: boolean;
}

/**
 * The log call `node` is when the pass must leave it in mode 1: a logger method (not console's, not a
 * foreign library's) whose first argument is not a literal format: a dynamic message, an object or error
 * first (pino's shapes), or any other value.
 *
 * @example
 * const m = mode1CallOf(node, classifier); // for log.info(`user ${id} paid`): { method: 'info', dynamic: true, ... }
 */
export function mode1CallOf(node: ts.Node, classifier: ReceiverClassifier): Mode1Call | undefined {
  const m = loggerMethodCall(node, classifier);
  if (!m || isLiteralFormat(m.first)) return undefined;
  const first = m.first;
  const dynamic =
    ts.isTemplateExpression(first) ||
    (ts.isBinaryExpression(first) && first.operatorToken.kind === ts.SyntaxKind.PlusToken) ||
    classifier.isStringTyped(first);
  return { call: m.call, method: m.method, first, dynamic };
}
