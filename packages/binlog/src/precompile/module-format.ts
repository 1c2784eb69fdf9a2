/**
 * Whether an emitted JavaScript file is an ES module or CommonJS, decided as Node decides it: `.mjs` and
 * `.cjs` by extension, `.js` by the `type` of the nearest package.json (CommonJS when there is none).
 *
 * @example
 * moduleFormatAt('/repo/app/dist/main.js'); // 'esm' when /repo/app/package.json has "type": "module"
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type ModuleFormat = 'esm' | 'cjs';

/** The format Node gives a file at `path` (which need not exist yet). */
export function moduleFormatAt(path: string): ModuleFormat {
  if (path.endsWith('.mjs') || path.endsWith('.mts')) return 'esm';
  if (path.endsWith('.cjs') || path.endsWith('.cts')) return 'cjs';
  return packageTypeAt(dirname(path));
}

function packageTypeAt(dir: string): ModuleFormat {
  for (let d = dir; ; d = dirname(d)) {
    let text: string | undefined;
    try {
      text = readFileSync(join(d, 'package.json'), 'utf8');
    } catch {
      // no package.json here: look further up
    }
    if (text !== undefined) {
      try {
        return (JSON.parse(text) as { type?: unknown }).type === 'module' ? 'esm' : 'cjs';
      } catch {
        return 'cjs';
      }
    }
    if (dirname(d) === d) return 'cjs';
  }
}

/** The statement that loads `specifier` for its side effects, in `format`. */
export function sideEffectImport(specifier: string, format: ModuleFormat): string {
  const s = JSON.stringify(specifier);
  return format === 'esm' ? `import ${s};` : `require(${s});`;
}

/** `to` as a relative module specifier from a file in `fromDir` (always starting with `./` or `../`). */
export function relativeSpecifier(
  fromDir: string,
  to: string,
  rel: (a: string, b: string) => string,
): string {
  const r = rel(fromDir, to).split('\\').join('/');
  return r.startsWith('.') ? r : `./${r}`;
}
