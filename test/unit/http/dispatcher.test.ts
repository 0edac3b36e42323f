import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { makeTlsCerts } from '../../harness/certs.js';
import { createDispatcher, tlsSettings } from '../../../src/http/dispatcher.js';
import * as undici from '../../../src/http/undici-modules.js';
import { resolveOrasClientOptions } from '../../../src/source/oras/options.js';

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
    const counted = { narrow: () => tls.narrow(), full: () => (fullBuilt++, tls.full()) };
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
