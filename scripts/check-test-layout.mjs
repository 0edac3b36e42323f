// Tests mirror the code: every file of src/ that has logic (a function, a class or an arrow
// function, not only types, constants and re-exports) has its unit test file at the same path under
// test/unit/ (`src/storage/gc.ts` → `test/unit/storage/gc.test.ts`). Run by `npm run lint`.
//
// A file may be waived, temporarily, by listing it in test/unit/without-unit-tests.txt (none is
// today); a waived file that gets its unit test must leave the list, so the list only shrinks.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Whether a file declares code that runs: a function, an arrow function or a class (a function *type* is not code). */
function hasLogic(text) {
  const kinds = new Set([
    ts.SyntaxKind.FunctionDeclaration,
    ts.SyntaxKind.FunctionExpression,
    ts.SyntaxKind.ArrowFunction,
    ts.SyntaxKind.ClassDeclaration,
    ts.SyntaxKind.ClassExpression,
  ]);
  const visit = (node) => kinds.has(node.kind) || ts.forEachChild(node, visit) === true;
  return visit(ts.createSourceFile('x.ts', text, ts.ScriptTarget.Latest, false));
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const listFile = path.join(root, 'test', 'unit', 'without-unit-tests.txt');
const listed = new Set(
  (existsSync(listFile) ? readFileSync(listFile, 'utf8') : '')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean),
);
const missing = [];
const stale = [];
let checked = 0;
let waived = 0;
for (const rel of readdirSync(src, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
  if (!hasLogic(readFileSync(path.join(src, rel), 'utf8'))) continue;
  checked++;
  const test = path.join(root, 'test', 'unit', rel.replace(/\.ts$/, '.test.ts'));
  const name = `src/${rel}`;
  const has = existsSync(test);
  if (has && listed.has(name)) stale.push(name);
  else if (!has && listed.has(name)) waived++;
  else if (!has) missing.push(`${name} → test/unit/${rel.replace(/\.ts$/, '.test.ts')}`);
}
if (missing.length || stale.length) {
  if (missing.length)
    console.error(
      `unit test layout: ${missing.length} source file(s) with logic have no unit test file:\n  ${missing.join('\n  ')}`,
    );
  if (stale.length)
    console.error(
      `unit test layout: these now have unit tests; remove them from test/unit/without-unit-tests.txt:\n  ${stale.join('\n  ')}`,
    );
  process.exit(1);
}
console.log(
  `unit test layout: ${checked - waived} of ${checked} source files with logic have their ` +
    `unit test file (${waived} still listed in test/unit/without-unit-tests.txt)`,
);
