// The deep undici paths orasfly imports (undici has no `exports` map) must still be what they were:
// an upgrade that moves or reshapes one fails here, loudly, instead of at a user's first pull.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { agentClass, buildConnector, dispatcherRequest } from '../../../src/http/undici-modules.js';
import * as undiciModules from '../../../src/http/undici-modules.js';
import { createDispatcher } from '../../../src/http/dispatcher.js';
import { resolveOrasClientOptions } from '../../../src/source/oras/options.js';

const require = createRequire(import.meta.url);

test('the undici version is the one the deep imports were written against (7.x)', () => {
  const pkg = JSON.parse(readFileSync(require.resolve('undici/package.json'), 'utf8')) as { version: string };
  assert.match(pkg.version, /^7\./, `undici ${pkg.version}: re-check src/http/undici-modules.ts before upgrading`);
});

test('the deep imports have the shapes we use: Agent, buildConnector, the request API', async () => {
  const Agent = agentClass();
  assert.equal(typeof Agent, 'function');
  assert.equal(typeof Agent.prototype.dispatch, 'function');
  const connect = buildConnector()({});
  assert.equal(typeof connect, 'function');
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const agent = new Agent();
  try {
    const res = await dispatcherRequest(agent, {
      origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      path: '/',
      method: 'GET',
    });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'ok');
  } finally {
    await agent.close();
    server.close();
  }
});

test('the dispatcher is built with allowH2: false explicitly (the CLI bundle has no HTTP/2 client)', () => {
  const d = createDispatcher(resolveOrasClientOptions({}), undiciModules) as unknown as Record<symbol, unknown>;
  // undici keeps the options it was built with under a symbol whose description is "options".
  const sym = Object.getOwnPropertySymbols(d).find((s) => s.description === 'options');
  assert.ok(sym, 'undici Agent stores its options');
  assert.equal((d[sym] as { allowH2?: unknown }).allowH2, false);
});

test('the library changes no process-wide V8 flag on its request path', () => {
  const src = readFileSync(new URL('../../../../src/http/undici-modules.ts', import.meta.url), 'utf8');
  assert.ok(!/setFlagsFromString/.test(src));
});
