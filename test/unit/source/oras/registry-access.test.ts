import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRegistryAccess } from '../../../../src/source/oras/registry-access.js';
import { resolveOrasClientOptions } from '../../../../src/source/oras/options.js';
import { LazyDispatcher } from '../../../../src/http/lazy-undici.js';
import { SecretSet } from '../../../../src/source/oras/secrets.js';

test('the request core and the token flow are wired to each other and to the client', async () => {
  let built = 0;
  const dispatcher = new LazyDispatcher(() => {
    built++;
    throw new Error('no network in this test');
  });
  const lifetime = new AbortController();
  const access = createRegistryAccess({
    options: resolveOrasClientOptions({ homeDir: '/nonexistent', dockerConfig: [] }),
    dispatcher,
    secrets: new SecretSet(),
    lifetime: lifetime.signal,
    unansweredProbe: (host) => (host === 'dead:1' ? 'https:// and http://' : undefined),
  });
  assert.equal(access.http.requests, 0);
  assert.equal(access.auth.tokenFetches, 0);
  assert.equal(access.http.unansweredProbe?.('dead:1'), 'https:// and http://');
  // Building the core loads nothing: the dispatcher (and undici) wait for the first request.
  assert.equal(built, 0);
  await assert.rejects(
    access.http.send({ method: 'GET', url: 'http://127.0.0.1:1/v2/', accept: [200], headers: {} }),
    /no network in this test/,
  );
  assert.equal(built, 1);
  lifetime.abort();
});
