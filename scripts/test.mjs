// The whole test suite: set-up on a fresh clone, type-check everything (src, tests, examples,
// benchmarks), build, then run unit and integration tests with node's test runner.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNpm, ensureRegistry, build } from './ensure-deps.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
ensureNpm();
ensureRegistry();
rmSync(path.join(root, '.build'), { recursive: true, force: true });
build('tsconfig.json');
build('tsconfig.test.json');
const only = process.argv.slice(2);
// The whole suite starts with `npm run lint`: formatting, lint rules, every docs example compiling
// against the current API, the unit-test layout and the layering. Not its type-check (--no-types):
// the build of tsconfig.test.json above has just type-checked the same files.
if (!only.length) {
  const lint = spawnSync(process.execPath, [path.join(root, 'scripts', 'lint.mjs'), '--no-types'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (lint.status !== 0) process.exit(lint.status ?? 1);
}
// Node 20's runner takes files, not globs: collect *.test.js ourselves, unit tests first.
function collect(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => path.join(dir, f));
}
const targets = only.length
  ? only.map((p) => path.join('.build', p.replace(/\.ts$/, '.js')))
  : [...collect(path.join(root, '.build/test/unit')), ...collect(path.join(root, '.build/test/integration'))];
// The command's code cache (docs/configuration.md) goes to a directory of the run's own, not ~/.cache.
const compileCache = mkdtempSync(path.join(os.tmpdir(), 'orasfly-test-compile-cache-'));
// Node 20 applies --test-timeout to each test file as a whole too (a file is a test of the run), so
// it is the bound of the longest file on a slow machine (the hostile scenarios, the 50-process
// storms), not of one test: 10 minutes, still far inside CI's limit if something hangs.
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-timeout=600000', ...targets], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, ORASFLY_TEST: '1', ORASFLY_COMPILE_CACHE: compileCache },
});
rmSync(compileCache, { recursive: true, force: true });
process.exit(r.status ?? 1);
