// The house stays one-way (part of `npm run lint`): the top-level parts of src/ form a stack, and
// each may import only the parts below it; no two files import each other, directly or around a
// circle. Every import counts: value, type-only (`import type`, `export type … from`) and dynamic
// (`import('…')`), because a type-only arrow is still a dependency a reader has to follow, and a
// lazy one is still a cycle at the next refactor.
//
// Why our own 100 lines instead of eslint-plugin-import-x's no-cycle or dependency-cruiser: both
// would be a new dependency tree for one rule; no-cycle resolves every import through a resolver on
// each lint run (seconds on this tree) and skips type-only imports unless told; and neither knows
// our stack order without a config as long as this file. TypeScript's own `preProcessFile` lists
// static, type-only and dynamic imports exactly as the compiler sees them, in milliseconds.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Bottom to top. A part may import itself and anything listed before it, nothing after it. */
export const STACK = [
  'version.ts', // the package version: a constant
  'core', // shared values: types, units, the digest grammar, errors, piece plan, task ids
  'internal', // process-local helpers: abort, retry policy, chunk iteration, require
  'http', // undici plumbing shared by the registry client and the cluster transports
  'log', // core.log records and sinks
  'storage', // the task store
  'source', // resource clients (the registry)
  'transport', // where pieces come from: origin, Dragonfly daemon, Dragonfly proxy
  'conductor', // one task's download, and the manager of tasks
  'config', // dfget.yaml → the option objects below
  'pull-artifact.ts', // the whole-artifact verb, above the manager
  'downloader.ts', // createDownloader: the wiring
  'dragonfly.ts', // the `orasfly/dragonfly` subpath barrel
  'cli', // the command
  'index.ts', // the public barrel
];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');

/** The part of the stack a src-relative path belongs to. */
function partOf(rel) {
  const first = rel.split('/')[0];
  return first;
}

export function checkLayering(dir = src) {
  const files = readdirSync(dir, { recursive: true })
    .map((f) => String(f).split(path.sep).join('/'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  const problems = [];
  const graph = new Map();
  for (const f of files) {
    const part = partOf(f);
    const rank = STACK.indexOf(part);
    if (rank < 0) problems.push(`src/${f}: "${part}" is not in the stack of scripts/check-layering.mjs; add it there`);
    const text = readFileSync(path.join(dir, f), 'utf8');
    const { importedFiles } = ts.preProcessFile(text, true, true);
    const deps = new Set();
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), fileName)).replace(/\.js$/, '.ts');
      if (target.startsWith('..')) {
        problems.push(`src/${f}: imports ${fileName}, outside src/`);
        continue;
      }
      deps.add(target);
      const tpart = partOf(target);
      const trank = STACK.indexOf(tpart);
      if (rank >= 0 && trank > rank)
        problems.push(`src/${f}: imports ${target} — "${part}" sits below "${tpart}" in the stack (upward import)`);
    }
    graph.set(f, deps);
  }
  for (const cycle of cycles(graph)) problems.push(`import cycle: ${cycle.map((f) => `src/${f}`).join(' → ')}`);
  return problems;
}

/** Strongly connected components of more than one file (or a file importing itself), as readable circles. */
function cycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || graph.get(v)?.has(v)) out.push([...comp.reverse(), comp[0]]);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problems = checkLayering(process.argv[2] ? path.resolve(process.argv[2]) : src);
  for (const p of problems) console.error(p);
  if (problems.length) {
    console.error(`layering: ${problems.length} problem(s); the stack is listed in scripts/check-layering.mjs`);
    process.exit(1);
  }
  console.log(`layering: ${STACK.length} parts, one way, no import cycle`);
}
