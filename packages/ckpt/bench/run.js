#!/usr/bin/env node
// ckpt benchmarks: `npm run bench -w ckpt -- <name> [args]`. Plain JS over dist/ (run `npm run build` first).
// Each benchmark is bench/<name>.js: one exporting `run(args)` is called; one without runs when imported
// (reading process.argv itself). With no name, every benchmark listed here runs, one after another.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const BENCHES = ['predump', 'track', 'page-server', 'compress'];
// also runnable by name: modes (read vs splice), final (the last freeze of a chain), dump (ckpt dump's
// downtime), restore, migrate (live migration's downtime across two network namespaces)

const [name, ...args] = process.argv.slice(2);
const names = name ? [name] : BENCHES.filter((b) => existsSync(join(here, `${b}.js`)));
for (const b of names) {
  const file = join(here, `${b}.js`);
  if (!existsSync(file)) {
    console.error(`bench: unknown benchmark ${b} (have: ${BENCHES.join(', ')})`);
    process.exit(2);
  }
  const mod = await import(file);
  if (typeof mod.run === 'function') await mod.run(args);
}
