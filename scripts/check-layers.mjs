#!/usr/bin/env node
// Fails when a module imports from a layer above its own, or when imports form a cycle.
// Layers are the folders under each package's src/, lowest first. Files directly in src/
// (index.ts, cli.ts) sit on top and may import anything.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const packages = {
  'packages/binlog/src': ['format', 'codec', 'runtime', 'decode', 'precompile'],
  'packages/ckpt/src': [
    'sys',
    'proc',
    'ptrace',
    'mem',
    'images',
    'xfer',
    'dump',
    'restore',
    'migrate',
    'report',
    'cli',
    'testing',
  ],
};

const problems = [];
const importRe =
  /^\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|^\s*import\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gm;

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.ts$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

for (const [srcRel, layers] of Object.entries(packages)) {
  const src = join(root, srcRel);
  let files;
  try {
    files = walk(src);
  } catch {
    continue;
  }
  const rank = (file) => {
    const top = relative(src, file).split(sep)[0];
    const i = layers.indexOf(top);
    if (i >= 0) return i;
    return top.endsWith('.ts') ? layers.length : -1;
  };
  const graph = new Map();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const deps = [];
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      deps.push(target);
      const from = rank(file);
      const to = rank(target);
      if (from < 0) problems.push(`${relative(root, file)}: not inside a known layer (${layers.join(', ')})`);
      else if (to > from && !file.endsWith('.test.ts')) {
        problems.push(`${relative(root, file)} imports upward: ${relative(root, target)}`);
      }
    }
    graph.set(file, deps);
  }
  // cycle detection (tests excluded: they sit outside the import graph of the product)
  const state = new Map();
  const stack = [];
  const visit = (f) => {
    if (state.get(f) === 2) return;
    if (state.get(f) === 1) {
      const cyc = stack
        .slice(stack.indexOf(f))
        .concat(f)
        .map((x) => relative(root, x));
      problems.push(`import cycle: ${cyc.join(' -> ')}`);
      return;
    }
    state.set(f, 1);
    stack.push(f);
    for (const d of graph.get(f) ?? []) if (graph.has(d)) visit(d);
    stack.pop();
    state.set(f, 2);
  };
  for (const f of graph.keys()) if (!f.endsWith('.test.ts')) visit(f);
}

if (problems.length) {
  for (const p of [...new Set(problems)]) console.error(`layers: ${p}`);
  process.exit(1);
}
console.log('layers: ok');
