// Tests mirror the code: every file of src/ that has logic (a function, a class or an arrow
// function, not only types, constants and re-exports) has its unit test file at the same path under
// test/unit/ (`src/storage/gc.ts` → `test/unit/storage/gc.test.ts`). Run by `npm run lint`.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const missing = [];
let checked = 0;
for (const rel of readdirSync(src, { recursive: true }).map(String).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
  const code = readFileSync(path.join(src, rel), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/`(?:\\.|[^`\\])*`|'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"/g, "''");
  if (!/\bfunction\b|\bclass\b|=>/.test(code)) continue;
  checked++;
  const test = path.join(root, 'test', 'unit', rel.replace(/\.ts$/, '.test.ts'));
  if (!existsSync(test)) missing.push(`src/${rel} → test/unit/${rel.replace(/\.ts$/, '.test.ts')}`);
}
if (missing.length) {
  console.error(`unit test layout: ${missing.length} of ${checked} source files with logic have no unit test file:\n  ${missing.join('\n  ')}`);
  process.exit(1);
}
console.log(`unit test layout: all ${checked} source files with logic have their unit test file`);
