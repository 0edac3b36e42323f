// `npm run bench`: set up like the tests, build, then run every bench script and print its figures.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNpm, ensureRegistry, build } from './ensure-deps.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
ensureNpm();
ensureRegistry();
build('tsconfig.json');
build('tsconfig.test.json');
const only = process.argv.slice(2);
const dir = path.join(root, '.build', 'bench');
const scripts = readdirSync(dir).filter(
  (f) => f.endsWith('-bench.js') && (only.length === 0 || only.some((o) => f.includes(o))),
);
let failed = 0;
for (const s of scripts) {
  console.log(`\n=== ${s}`);
  const r = spawnSync(process.execPath, [path.join(dir, s)], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
