// `npm run lint` (and the first step of `npm test`): formatting (prettier, 120 columns), lint rules
// (eslint, type-aware: no floating promises, …), every file type-checked, every docs example
// compiling, every source file with logic having its unit test file, and the one-way layering of
// src/ (no upward import, no import cycle: scripts/check-layering.mjs).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (pkg, file) => path.join(root, 'node_modules', pkg, file);
const steps = [
  ['format', [bin('prettier', 'bin/prettier.cjs'), '--check', '--log-level', 'warn', '.']],
  ['lint', [bin('eslint', 'bin/eslint.js'), '.']],
  ['types', [bin('typescript', 'bin/tsc'), '-p', 'tsconfig.test.json', '--noEmit']],
  ['doc examples', [path.join(root, 'scripts', 'check-doc-examples.mjs')]],
  ['unit test layout', [path.join(root, 'scripts', 'check-test-layout.mjs')]],
  ['layering', [path.join(root, 'scripts', 'check-layering.mjs')]],
];
let failed = 0;
for (const [name, args] of steps) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`lint: ${name} failed (npm run format fixes formatting)`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
