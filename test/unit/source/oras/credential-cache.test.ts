import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CREDENTIAL_LOOKUP_TTL_MS, CredentialCache } from '../../../../src/source/oras/credential-cache.js';
import { resolveOrasClientOptions } from '../../../../src/source/oras/options.js';

test('a credential function is asked once per registry and repository, and its answer is shared', async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'orasfly-cred-cache-'));
  try {
    const asked: string[] = [];
    const o = resolveOrasClientOptions({
      homeDir: home,
      credentials: (registry) => {
        asked.push(registry);
        return { username: 'u', password: `p-${registry}` };
      },
    });
    const cache = new CredentialCache(o, new AbortController().signal);
    const [a, b] = await Promise.all([
      cache.lookup('r1:5000', undefined, 'repository:lab/a:pull'),
      cache.lookup('r1:5000', undefined, 'repository:lab/a:pull'),
    ]);
    assert.deepEqual(a, { username: 'u', password: 'p-r1:5000' });
    assert.equal(a, b);
    await cache.lookup('r2:5000');
    assert.deepEqual(asked, ['r1:5000', 'r2:5000']);
    assert.equal(cache.warningFor('r1:5000'), undefined);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("one caller's abort rejects that caller only", async () => {
  const o = resolveOrasClientOptions({ credentials: () => new Promise(() => {}) });
  const cache = new CredentialCache(o, new AbortController().signal);
  const ac = new AbortController();
  const p = cache.lookup('r:1', ac.signal);
  ac.abort(new Error('gone'));
  await assert.rejects(p, /gone/);
});

test('a credential is looked up again after CREDENTIAL_LOOKUP_TTL_MS: a new login or a helper’s fresh token is seen', async () => {
  let n = 0;
  const o = resolveOrasClientOptions({ credentials: () => ({ username: 'u', password: `p${++n}` }) });
  let now = 1_000_000;
  const cache = new CredentialCache(o, new AbortController().signal, () => now);
  assert.deepEqual(await cache.lookup('r:1'), { username: 'u', password: 'p1' });
  now += CREDENTIAL_LOOKUP_TTL_MS - 1;
  assert.deepEqual(await cache.lookup('r:1'), { username: 'u', password: 'p1' }, 'still the cached one');
  now += 1;
  assert.deepEqual(await cache.lookup('r:1'), { username: 'u', password: 'p2' }, 'looked up again');
});
