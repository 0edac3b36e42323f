import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { makeTlsCerts, serveHttpsForTest, useExtraCaFileForTest } from '../../harness/certs.js';
import { createDispatcher, directConnect, tlsSettings } from '../../../src/http/dispatcher.js';
import { directGet } from '../../../src/http/socket-get.js';
import { nodeDefaultTrust, nodeStoreIsSystem } from '../../../src/http/tls-trust.js';
import { ChunkPool } from '../../../src/internal/chunk-pool.js';
import * as undici from '../../../src/http/undici-modules.js';
import { resolveOrasClientOptions } from '../../../src/source/oras/options.js';

/** GETs `origin`/ through a dispatcher built for `options`: the body's text, or the error. */
async function fetchText(
  options: Parameters<typeof resolveOrasClientOptions>[0],
  origin: string,
): Promise<string | Error> {
  const o = resolveOrasClientOptions(options);
  const d = createDispatcher(o, undici, tlsSettings(o));
  try {
    const r = await undici.dispatcherRequest(d, { origin, path: '/', method: 'GET' });
    return await r.body.text();
  } catch (e) {
    return e as Error;
  } finally {
    await d.close();
  }
}

test('dispatchers are built for plain, proxy and injected configurations', async () => {
  const d1 = createDispatcher(resolveOrasClientOptions({ keepAlive: 0 }), undici);
  const d2 = createDispatcher(resolveOrasClientOptions({ proxy: 'http://127.0.0.1:3128' }), undici);
  await Promise.all([d1.close(), d2.close()]);
  const injected = createDispatcher(resolveOrasClientOptions({ dispatcher: d1 }), undici);
  assert.equal(injected, d1);
});

test('TLS trust in two steps: the CA file alone first, the whole store only when that cannot vouch', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-trust-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = await makeTlsCerts(mkdtempSync(path.join(dir, 'a-')));
  const b = await makeTlsCerts(mkdtempSync(path.join(dir, 'b-')));
  const serve = async (certs: { certFile: string; keyFile: string }) =>
    (await serveHttpsForTest(t, certs, (_q, s) => s.end('ok'))).origin;
  const get = async (origin: string, extraCa?: string) => {
    const saved = process.env['NODE_EXTRA_CA_CERTS'];
    if (extraCa) process.env['NODE_EXTRA_CA_CERTS'] = extraCa;
    else delete process.env['NODE_EXTRA_CA_CERTS'];
    const o = resolveOrasClientOptions({ caFile: a.caFile });
    const tls = tlsSettings(o);
    let fullBuilt = 0;
    const counted = { ...tls, full: () => (fullBuilt++, tls.full()) };
    const d = createDispatcher(o, undici, counted);
    try {
      const r = await undici.dispatcherRequest(d, { origin, path: '/', method: 'GET' });
      return { status: r.statusCode, body: await r.body.text(), fullBuilt };
    } catch (e) {
      return { error: e as Error & { code?: string }, fullBuilt };
    } finally {
      if (saved === undefined) delete process.env['NODE_EXTRA_CA_CERTS'];
      else process.env['NODE_EXTRA_CA_CERTS'] = saved;
      await d.close();
    }
  };
  // Signed by the CA file's CA: one step, the whole store never built.
  const byA = await get(await serve(a));
  assert.equal(byA.status, 200);
  assert.equal(byA.fullBuilt, 0);
  // Signed by a CA that only the whole store has (here through NODE_EXTRA_CA_CERTS): the second step.
  const originB = await serve(b);
  const byB = await get(originB, b.caFile);
  assert.equal(byB.status, 200, String(byB.error));
  assert.equal(byB.fullBuilt, 1);
  // Signed by a CA nobody configured: still refused after both steps.
  const refused = await get(originB);
  assert.ok(refused.error, 'an untrusted server was accepted');
  assert.equal(refused.fullBuilt, 1);
});

test('once the narrow trust failed to vouch for a server, new connections (direct ones too) start from the whole store', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-widen-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = await makeTlsCerts(mkdtempSync(path.join(dir, 'a-')));
  const b = await makeTlsCerts(mkdtempSync(path.join(dir, 'b-')));
  // Signed by b, which only the whole store trusts (through NODE_EXTRA_CA_CERTS); every answer closes
  // its connection, so each request makes a new one.
  const server = https.createServer({ cert: readFileSync(b.certFile), key: readFileSync(b.keyFile) }, (_q, s) => {
    s.setHeader('connection', 'close');
    s.end('ok');
  });
  let refusedHandshakes = 0;
  server.on('tlsClientError', () => refusedHandshakes++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  useExtraCaFileForTest(t, b.caFile);
  const o = resolveOrasClientOptions({ caFile: a.caFile });
  const tls = tlsSettings(o);
  const d = createDispatcher(o, undici, tls);
  t.after(() => d.close());
  const direct = directConnect(o, tls)!;
  assert.equal(direct.tls(), tls.narrow(), 'a direct connection starts from the narrow trust');
  assert.equal(tls.widened(), false);
  for (let i = 0; i < 3; i++) {
    const r = await undici.dispatcherRequest(d, { origin, path: '/', method: 'GET' });
    assert.equal(r.statusCode, 200);
    assert.equal(await r.body.text(), 'ok');
  }
  // One handshake refused (the first connection's narrow attempt), not one per connection.
  assert.equal(refusedHandshakes, 1);
  assert.equal(tls.widened(), true);
  assert.equal(direct.tls(), tls.full(), 'a direct connection now starts from the whole store');
  const got: Buffer[] = [];
  const head = await directGet(direct, {
    url: new URL(`${origin}/`),
    headers: {},
    memory: new ChunkPool({ bufferBytes: 64 * 1024, keep: 0 }),
    sink: (c) => void got.push(Buffer.from(c)),
    accept: (h) => h.status === 200,
  });
  assert.equal(head.status, 200);
  assert.equal(Buffer.concat(got).toString(), 'ok');
  assert.equal(refusedHandshakes, 1, 'the direct connection was refused first');
});

test('NODE_EXTRA_CA_CERTS that Node did not load (nodeExtraCaLoaded: false) is trusted where Node’s default store would be: systemCa off, and an https proxy', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-deferred-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const b = await makeTlsCerts(mkdtempSync(path.join(dir, 'b-')));
  const { origin } = await serveHttpsForTest(t, b, (_q, s) => s.end('ok'));
  // Set now, so this process's Node never loaded it: exactly the executable's case.
  useExtraCaFileForTest(t, b.caFile);
  const get = (nodeExtraCaLoaded: boolean) => fetchText({ systemCa: false, nodeExtraCaLoaded }, origin);
  assert.equal(await get(false), 'ok');
  // Said to be loaded, the default store is relied on: it lacks b, so b is refused.
  assert.ok((await get(true)) instanceof Error, 'a CA Node never loaded was trusted');
  // An https proxy signed by b (its CONNECT tunnels to a plain origin): its own certificate is
  // checked against the same store.
  const plain = http.createServer((_q, res) => res.end('through the proxy'));
  plain.listen(0, '127.0.0.1');
  await once(plain, 'listening');
  t.after(() => plain.close());
  const proxy = https.createServer({ cert: readFileSync(b.certFile), key: readFileSync(b.keyFile) });
  proxy.on('connect', (req: http.IncomingMessage, client: Duplex) => {
    const [host, port] = req.url!.split(':');
    const upstream = netConnect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(client).pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  t.after(() => proxy.close());
  const viaProxy = (nodeExtraCaLoaded: boolean) =>
    fetchText(
      { proxy: `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`, nodeExtraCaLoaded },
      `http://127.0.0.1:${(plain.address() as AddressInfo).port}`,
    );
  assert.equal(await viaProxy(false), 'through the proxy');
  assert.ok((await viaProxy(true)) instanceof Error, 'a proxy signed by a CA Node never loaded was trusted');
  assert.deepEqual(nodeDefaultTrust(true), {}, 'nothing is built when Node loaded the file');
});

test('Node’s default store is the system’s under --use-openssl-ca, --use-system-ca, NODE_USE_SYSTEM_CA=1 or such a build; the last flag decides', () => {
  assert.equal(nodeStoreIsSystem({}, [], undefined), false);
  assert.equal(nodeStoreIsSystem({}, ['--use-openssl-ca'], undefined), true);
  assert.equal(nodeStoreIsSystem({ NODE_OPTIONS: '--max-old-space-size=100 --use-system-ca' }, [], undefined), true);
  assert.equal(nodeStoreIsSystem({ NODE_OPTIONS: '--use-openssl-ca' }, ['--use-bundled-ca'], undefined), false);
  assert.equal(nodeStoreIsSystem({ NODE_USE_SYSTEM_CA: '1' }, [], undefined), true);
  assert.equal(nodeStoreIsSystem({}, [], true), true);
  assert.equal(nodeStoreIsSystem({}, ['--use-bundled-ca'], true), false);
});
