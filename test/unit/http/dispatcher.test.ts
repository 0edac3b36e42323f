import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDispatcher } from '../../../src/http/dispatcher.js';
import { resolveOrasClientOptions } from '../../../src/source/oras/options.js';

test('dispatchers are built for plain, proxy and injected configurations', async () => {
  const d1 = createDispatcher(resolveOrasClientOptions({ keepAlive: 0 }));
  const d2 = createDispatcher(resolveOrasClientOptions({ proxy: 'http://127.0.0.1:3128' }));
  await Promise.all([d1.close(), d2.close()]);
  const injected = createDispatcher(resolveOrasClientOptions({ dispatcher: d1 }));
  assert.equal(injected, d1);
});
