import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SchemeChooser } from '../../../../src/source/oras/scheme.js';
import { agentClass } from '../../../../src/http/undici-modules.js';
import { LazyDispatcher } from '../../../../src/http/lazy-undici.js';
import { OrasResourceClient } from '../../../../src/source/oras/oras-resource-client.js';
import { NetworkError } from '../../../../src/core/errors.js';

function chooser(plainHttp: boolean | undefined) {
  const agent = new (agentClass())();
  const dispatcher = new LazyDispatcher(() => agent);
  const lifetime = new AbortController();
  const c = new SchemeChooser({ plainHttp, userAgent: 'test', dispatcher, lifetime: lifetime.signal });
  return { c, close: () => agent.close() };
}

test('an explicit plainHttp decides for every host, with no probe', async () => {
  for (const [plain, scheme] of [
    [true, 'http'],
    [false, 'https'],
  ] as const) {
    const { c, close } = chooser(plain);
    await c.decide('127.0.0.1:1', undefined);
    assert.equal(c.schemeOf('127.0.0.1:1'), scheme);
    assert.equal(c.schemeOf('ghcr.io'), scheme);
    await close();
  }
});

test('a remote host is HTTPS without a probe', async () => {
  const { c, close } = chooser(undefined);
  await c.decide('registry.invalid:5000', undefined);
  assert.equal(c.schemeOf('registry.invalid:5000'), 'https');
  await close();
});

test('a loopback registry that answers a ClientHello with plain HTTP, and /v2/ with 401, is plain HTTP', async () => {
  let v2 = 0;
  const server = http.createServer((req, res) => {
    if (req.url === '/v2/') v2++;
    res.writeHead(401).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { c, close } = chooser(undefined);
  try {
    assert.equal(c.schemeOf(host), 'https', 'undecided means HTTPS');
    await Promise.all([c.decide(host, undefined), c.decide(host, undefined)]);
    assert.equal(c.schemeOf(host), 'http');
    assert.equal(v2, 1, 'one probe for concurrent callers');
  } finally {
    await close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('the confirming GET /v2/ goes on a connection of its own when the client has one: a 200 there loads no undici; a 401 asks through the dispatcher', async () => {
  const seen: string[] = [];
  let status = 200;
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dispatched: string[] = [];
  const dispatcher = new LazyDispatcher(() => {
    dispatched.push('built');
    return new (agentClass())();
  });
  const probes: string[] = [];
  const make = () =>
    new SchemeChooser({
      plainHttp: undefined,
      userAgent: 'test',
      dispatcher,
      lifetime: new AbortController().signal,
      directProbe: async (url) => {
        probes.push(url);
        const r = await fetch(url);
        return r.status === 200;
      },
    });
  try {
    const a = make();
    await a.decide(host, undefined);
    assert.equal(a.schemeOf(host), 'http');
    assert.deepEqual(probes, [`http://${host}/v2/`]);
    assert.deepEqual(dispatched, [], 'the dispatcher was built for a 200');
    status = 401;
    const b = make();
    await b.decide(host, undefined);
    assert.equal(b.schemeOf(host), 'http', 'a 401 confirms through the dispatcher');
    assert.deepEqual(dispatched, ['built']);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('nothing listening leaves the host undecided (HTTPS), to be probed again later', async () => {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  await new Promise((r) => server.close(r));
  const { c, close } = chooser(undefined);
  await c.decide(host, undefined);
  assert.equal(c.schemeOf(host), 'https');
  // Both schemes were asked, and an error about this host can say so.
  assert.equal(c.unansweredProbe(host), 'https:// and http://');
  await close();
});

test('a loopback registry that is down: the error names the schemes probed, not https:// alone', async () => {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  await new Promise((r) => server.close(r));
  const client = new OrasResourceClient({ dockerConfig: [], retry: { maxRetries: 0 } });
  try {
    await assert.rejects(client.resolve(`oras://${host}/lab/img:v1`), (e: unknown) => {
      assert.ok(e instanceof NetworkError, String(e));
      assert.match(e.message, new RegExp(`^GET ${host}/v2/lab/img/manifests/v1 failed: ECONNREFUSED`));
      assert.match(e.message, /nothing answered over https:\/\/ and http:\/\/; is the registry running\?/);
      assert.doesNotMatch(e.message, /https:\/\/127/);
      return true;
    });
  } finally {
    await client.close();
  }
});
