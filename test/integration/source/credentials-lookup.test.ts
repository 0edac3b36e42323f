// Credentials are looked up only when a registry challenges, and a broken credential helper (a
// `credsStore` copied from a laptop) is a warning, not the end of every pull. Real registries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry, pushSif, type RunningRegistry } from '../../harness/index.js';
import { OrasResourceClient } from '../../../src/source/oras/oras-resource-client.js';
import { AuthError } from '../../../src/core/errors.js';

let anon: RunningRegistry;
let basic: RunningRegistry;
let home: string;
before(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'orasfly-creds-'));
  anon = await startRegistry({ variant: 'anonymous' });
  basic = await startRegistry({ variant: 'basic' });
  await pushSif(anon, 'c/img', 'v1', { size: 4096, seed: 1 });
  await pushSif(basic, 'c/img', 'v1', { size: 4096, seed: 2 });
});
after(async () => {
  await anon?.stop();
  await basic?.stop();
  rmSync(home, { recursive: true, force: true });
});

function config(name: string, body: unknown): string {
  const f = path.join(home, `${name}.json`);
  writeFileSync(f, JSON.stringify(body));
  return f;
}

test('a broken credsStore does not fail a registry that never asks for credentials', async () => {
  const c = new OrasResourceClient({ homeDir: home, dockerConfig: [config('broken', { credsStore: 'nosuchhelper' })] });
  try {
    const r = await c.resolve(anon.ref('c/img:v1'));
    assert.match(r.digest, /^sha256:/);
  } finally {
    await c.close();
  }
});

test('a broken credsStore falls through to auths; without them, the error names the failed helper', async () => {
  const { username, password } = basic.credentials!;
  const ok = new OrasResourceClient({
    homeDir: home,
    dockerConfig: [
      config('fallthrough', {
        credsStore: 'nosuchhelper',
        auths: { [basic.host]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } },
      }),
    ],
  });
  try {
    assert.match((await ok.resolve(basic.ref('c/img:v1'))).digest, /^sha256:/);
  } finally {
    await ok.close();
  }
  const none = new OrasResourceClient({
    homeDir: home,
    dockerConfig: [config('only-broken', { credsStore: 'nosuchhelper' })],
  });
  try {
    await assert.rejects(
      none.resolve(basic.ref('c/img:v1')),
      (e: unknown) => e instanceof AuthError && /no credential for .* was found .*nosuchhelper/.test(e.message),
    );
  } finally {
    await none.close();
  }
});
