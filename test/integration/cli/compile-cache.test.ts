// The command's launcher (src/cli/launcher.ts) against a real registry: a download saves no code
// cache, the first reuse saves one, later runs start from it, a damaged cache is refused by V8 and
// replaced, and ORASFLY_COMPILE_CACHE=off writes nothing. Every run's output is the blob.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry, pushSif, sha256File, type RunningRegistry, type PushedArtifact } from '../../harness/index.js';
import { runCli } from './run-cli.js';

let reg: RunningRegistry;
let home: string;
let sif: PushedArtifact;
before(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'orasfly-compile-cache-'));
  reg = await startRegistry({ variant: 'anonymous' });
  sif = await pushSif(reg, 'cc/app', 'v1', { size: 200_000, seed: 31 });
});
after(async () => {
  await reg?.stop();
  rmSync(home, { recursive: true, force: true });
});

let n = 0;
/** One pull into the test's store; returns what the launcher said of the cache. */
async function pull(cacheDir: string): Promise<string> {
  const out = path.join(home, `out${n++}.sif`);
  const r = await runCli(home, [reg.ref('cc/app:v1'), '-O', out, '--datadir', path.join(home, 'store')], {
    env: { ORASFLY_COMPILE_CACHE: cacheDir, DEBUG: 'orasfly:launcher' },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await sha256File(out), sif.layer.digest);
  const said = /orasfly:launcher code cache .*: (.*)/.exec(r.stderr);
  assert.ok(said, r.stderr);
  return said[1]!;
}

test('saved after the first reuse, used from then on, replaced when V8 refuses it', async () => {
  const dir = path.join(home, 'cache');
  const files = (): string[] => (existsSync(dir) ? readdirSync(dir) : []);
  assert.equal(await pull(dir), 'none yet');
  assert.deepEqual(files(), [], 'a download saves no cache');
  assert.equal(await pull(dir), 'none yet');
  assert.equal(files().length, 1, 'the first reuse saved one');
  assert.equal(await pull(dir), 'used');
  writeFileSync(path.join(dir, files()[0]!), Buffer.alloc(4096, 7), { mode: 0o600 });
  assert.equal(await pull(dir), 'rejected by V8');
  assert.equal(await pull(dir), 'used', 'the refused cache was replaced');
});

test('ORASFLY_COMPILE_CACHE=off: nothing read, nothing written', async () => {
  assert.equal(await pull('off'), 'disabled');
  assert.equal(existsSync(path.join(home, '.cache')), false);
});
