// docs/bundling.md says a consumer's ESM bundle of orasfly needs a `require` (createRequire banner)
// and works with it. Both halves, with the esbuild the project builds with, against the built dist/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../harness/paths.js';
import { build } from 'esbuild';

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-bundle-'));
  // A consumer's app: it opens a client (undici, debug) and parses a reference.
  writeFileSync(
    path.join(dir, 'app.mjs'),
    `import { OrasResourceClient, parseOrasReference } from 'orasfly';
const c = new OrasResourceClient();
console.log(parseOrasReference('oras://127.0.0.1:5000/lab/img:v1').repository);
await c.close();
`,
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function bundle(banner: boolean): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const outfile = path.join(dir, banner ? 'with.mjs' : 'without.mjs');
  await build({
    entryPoints: [path.join(dir, 'app.mjs')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20.19',
    outfile,
    alias: { orasfly: path.join(repoRoot, 'dist', 'index.js') },
    logLevel: 'silent',
    ...(banner
      ? {
          banner: {
            js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
          },
        }
      : {}),
  });
  const r = spawnSync(process.execPath, [outfile], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('an ESM bundle with the createRequire banner runs', async () => {
  const r = await bundle(true);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'lab/img');
});

test('without the banner it fails at start with esbuild\'s "Dynamic require" error, as the docs say', async () => {
  const r = await bundle(false);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Dynamic require of "[^"]+" is not supported/);
});
