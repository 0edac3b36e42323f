import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDispatcher } from '../../../src/http/dispatcher.js';
import * as undici from '../../../src/http/undici-modules.js';
import { resolveOrasClientOptions } from '../../../src/source/oras/options.js';

test('dispatchers are built for plain, proxy and injected configurations', async () => {
  const d1 = createDispatcher(resolveOrasClientOptions({ keepAlive: 0 }), undici);
  const d2 = createDispatcher(resolveOrasClientOptions({ proxy: 'http://127.0.0.1:3128' }), undici);
  await Promise.all([d1.close(), d2.close()]);
  const injected = createDispatcher(resolveOrasClientOptions({ dispatcher: d1 }), undici);
  assert.equal(injected, d1);
});
