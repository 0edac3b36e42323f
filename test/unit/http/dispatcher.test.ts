import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { makeTlsCerts } from '../../harness/certs.js';
import { createDispatcher, directConnect, tlsSettings } from '../../../src/http/dispatcher.js';
import { directGet } from '../../../src/http/socket-get.js';
import { nodeDefaultTrust } from '../../../src/http/tls-trust.js';
import { ChunkPool } from '../../../src/internal/chunk-pool.js';
import * as undici from '../../../src/http/undici-modules.js';
import { resolveOrasClientOptions } from '../../../src/source/oras/options.js';

/** Sets NODE_EXTRA_CA_CERTS for the rest of the test (this process's Node never loaded it). */
function setExtraCaForTest(t: { after(fn: () => void): void }, file: string): void {
  const saved = process.env['NODE_EXTRA_CA_CERTS'];
  process.env['NODE_EXTRA_CA_CERTS'] = file;
  t.after(() => {
    if (saved === undefined) delete process.env['NODE_EXTRA_CA_CERTS'];
    else process.env['NODE_EXTRA_CA_CERTS'] = saved;
  });
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
  const serve = async (certs: { certFile: string; keyFile: string }) => {
    const server = https.createServer(
      { cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) },
      (_q, s) => s.end('ok'),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
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
  setExtraCaForTest(t, b.caFile);
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
  const server = https.createServer({ cert: readFileSync(b.certFile), key: readFileSync(b.keyFile) }, (_q, s) =>
    s.end('ok'),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Set now, so this process's Node never loaded it: exactly the executable's case.
  setExtraCaForTest(t, b.caFile);
  const get = async (nodeExtraCaLoaded: boolean) => {
    const o = resolveOrasClientOptions({ systemCa: false, nodeExtraCaLoaded });
    const d = createDispatcher(o, undici, tlsSettings(o));
    try {
      const r = await undici.dispatcherRequest(d, { origin, path: '/', method: 'GET' });
      return await r.body.text();
    } catch (e) {
      return e as Error;
    } finally {
      await d.close();
    }
  };
  assert.equal(await get(false), 'ok');
  // Said to be loaded, the default store is relied on: it lacks b, so b is refused.
  assert.ok((await get(true)) instanceof Error, 'a CA Node never loaded was trusted');
  // An https proxy's own certificate: the same store.
  const proxyTls = (loaded: boolean) => nodeDefaultTrust(loaded);
  assert.deepEqual(proxyTls(true), {});
  assert.ok(proxyTls(false).secureContext, 'no context with the deferred certificates');
  const socket = tlsConnect({ host: '127.0.0.1', port: Number(new URL(origin).port), ...proxyTls(false) });
  await once(socket, 'secureConnect');
  assert.equal(socket.authorized, true);
  socket.destroy();
});
