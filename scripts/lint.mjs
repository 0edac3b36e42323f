// `npm run lint` (and the first step of `npm test`): formatting (prettier, 120 columns), lint rules
// (eslint, type-aware: no floating promises, …), every file type-checked, every docs example
// compiling, every source file with logic having its unit test file, every source file opening with
// a comment naming its job (scripts/check-opening-comments.mjs) and at most 500 lines
// (scripts/check-file-size.mjs), and the one-way layering of src/
// (no upward import, no import cycle: scripts/check-layering.mjs), and the paths and API names the
// docs mention existing (scripts/check-doc-refs.mjs).
//
// `--no-types` skips the type-check step: `npm test` passes it because it has just compiled
// tsconfig.test.json itself (scripts/test.mjs), which type-checks the same files, so a run checks
// types once. `npm run lint` alone takes no argument and runs every step.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const unknown = argv.filter((a) => a !== '--no-types');
if (unknown.length) {
  console.error(`lint: unknown argument(s): ${unknown.join(' ')} (the only one is --no-types)`);
  process.exit(2);
}
const skip = new Set(argv.includes('--no-types') ? ['types'] : []);
const bin = (pkg, file) => path.join(root, 'node_modules', pkg, file);
const steps = [
  ['format', [bin('prettier', 'bin/prettier.cjs'), '--check', '--log-level', 'warn', '.']],
  ['lint', [bin('eslint', 'bin/eslint.js'), '.']],
  ['types', [bin('typescript', 'bin/tsc'), '-p', 'tsconfig.test.json', '--noEmit']],
  ['doc examples', [path.join(root, 'scripts', 'check-doc-examples.mjs')]],
  ['unit test layout', [path.join(root, 'scripts', 'check-test-layout.mjs')]],
  ['opening comments', [path.join(root, 'scripts', 'check-opening-comments.mjs')]],
  ['file size', [path.join(root, 'scripts', 'check-file-size.mjs')]],
  ['layering', [path.join(root, 'scripts', 'check-layering.mjs')]],
  ['doc refs', [path.join(root, 'scripts', 'check-doc-refs.mjs')]],
];
let failed = 0;
for (const [name, args] of steps) {
  if (skip.has(name)) continue;
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`lint: ${name} failed (npm run format fixes formatting)`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
