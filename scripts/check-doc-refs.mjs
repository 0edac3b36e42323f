#!/usr/bin/env node
// The guides name files and API names that exist: every `src/…` and `test/…` file path in
// README.md and docs/*.md is a file of the repository, and every backticked name that looks like
// orasfly's API is one. A name is checked when it is PascalCase (`StorageManager`), a member
// (`OrasResourceClient.resolve`) or a call (`loadConfig()`): its head must be exported by
// src/index.ts or src/dragonfly.ts (or be in the `errors` namespace), be declared somewhere in
// src/ or test/harness/ (docs name internal parts too), or be one of the names of other projects listed below; a
// member of an exported name must exist on it. Plain camelCase words are option keys, not checked.
// Removed names (`registerResourceClient`, `ResourceClientRegistry`) and moved test paths fail.
// Run by `npm run lint`; `node scripts/check-doc-refs.mjs [root]` checks another tree.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Names the docs use from Node, undici, Go's Dragonfly and the web platform: not ours to check. */
const FOREIGN = new Set([
  'AbortSignal',
  'AbortController',
  'AbortError',
  'DOMException',
  'ProxyAgent', // undici
  'PeerIDV1', // Dragonfly's Go idgen
  'RegisterBuilder', // Dragonfly's Go source client registry
  'copyFile', // node:fs
  'http', // `http(s)` URLs, in security.md
]);

const FILE_PATH = /(?<![\w./-])((?:src|test)\/[\w./-]*\w\.(?:ts|mjs|js|json))\b/g;
const NAME = /`([A-Za-z_$][\w$]*)((?:\.[A-Za-z_$][\w$]*)*)(\([^`]*\))?`/g;

/** The documents checked. */
function docs(root) {
  const dir = path.join(root, 'docs');
  return [
    'README.md',
    ...readdirSync(dir)
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
}

/** Exported names and their members (static and instance), from the package's entry points. */
function surface(root) {
  const entries = ['src/index.ts', 'src/dragonfly.ts'].map((f) => path.join(root, f));
  const program = ts.createProgram(entries, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    noEmit: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const members = new Map();
  const add = (sym) => {
    const names = new Set();
    const s = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    const decl = s.declarations?.[0];
    if (decl) {
      for (const p of checker.getPropertiesOfType(checker.getTypeOfSymbolAtLocation(s, decl))) names.add(p.name);
      if (s.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias))
        for (const p of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(s))) names.add(p.name);
    }
    members.set(sym.name, names);
    if (s.flags & ts.SymbolFlags.Module) for (const e of checker.getExportsOfModule(s)) add(e);
  };
  for (const f of entries) {
    const mod = checker.getSymbolAtLocation(program.getSourceFile(f));
    for (const e of checker.getExportsOfModule(mod)) add(e);
  }
  return members;
}

/** Names declared anywhere in src/ or the test harness (classes, interfaces, types, functions, consts, methods). */
function declared(root) {
  const names = new Set();
  for (const dir of ['src', 'test/harness'].map((d) => path.join(root, d)))
    for (const rel of readdirSync(dir, { recursive: true }).map(String)) {
      if (!rel.endsWith('.ts')) continue;
      const text = readFileSync(path.join(dir, rel), 'utf8');
      for (const m of text.matchAll(/\b(?:class|interface|type|function|const|let|enum)\s+([A-Za-z_$][\w$]*)/g))
        names.add(m[1]);
      for (const m of text.matchAll(
        /^\s+(?:(?:static|async|readonly|get|set|public|override)\s+)*([A-Za-z_$][\w$]*)\s*[(<]/gm,
      ))
        names.add(m[1]);
    }
  return names;
}

/** Problems, one line each. */
export function checkDocRefs(root) {
  const problems = [];
  const api = surface(root);
  const local = declared(root);
  const anyMember = new Set([...api.values()].flatMap((s) => [...s]));
  for (const doc of docs(root)) {
    const text = readFileSync(path.join(root, doc), 'utf8');
    const lineOf = (i) => text.slice(0, i).split('\n').length;
    for (const m of text.matchAll(FILE_PATH))
      if (!existsSync(path.join(root, m[1]))) problems.push(`${doc}:${lineOf(m.index)}: ${m[1]} does not exist`);
    for (const m of text.matchAll(NAME)) {
      const [, head, rest, call] = m;
      const member = rest ? rest.slice(1).split('.')[0] : undefined;
      const pascal = /^[A-Z][a-z0-9]+[A-Z]/.test(head) || (/^[A-Z][a-z]/.test(head) && (member || call));
      const camelCall = /^[a-z]/.test(head) && call !== undefined && !member;
      if (FOREIGN.has(head) || head.includes('_')) continue; // constants and environment variables
      if (api.has(head)) {
        if (member && !api.get(head).has(member))
          problems.push(`${doc}:${lineOf(m.index)}: \`${head}.${member}\`: ${head} has no member ${member}`);
        continue;
      }
      if (pascal && !local.has(head))
        problems.push(`${doc}:${lineOf(m.index)}: \`${head}\` is neither exported nor declared in src/`);
      else if (camelCall && !local.has(head) && !anyMember.has(head))
        problems.push(`${doc}:${lineOf(m.index)}: \`${head}()\` is neither exported nor declared in src/`);
    }
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
  const problems = checkDocRefs(root);
  for (const p of problems) console.error(p);
  if (problems.length) {
    console.error(`doc refs: ${problems.length} problem(s): a path or API name in the docs that does not exist`);
    process.exit(1);
  }
}
