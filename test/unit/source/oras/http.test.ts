// A token POST carries the refresh (identity) token in its body: no redirect may carry it to another
// origin or down to plain HTTP. Real sockets on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OrasResourceClient } from '../../../../src/source/oras/oras-resource-client.js';
import { OrasflyError } from '../../../../src/core/errors.js';

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; origin: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

test('a token POST redirected to another origin is refused; the other origin receives nothing', async (t) => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'orasfly-redir-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const seen: { method?: string; body: string }[] = [];
  const thief = await listen((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method, body });
      res.end('{}');
    });
  });
  const realm = await listen((req, res) => {
    res.statusCode = 307;
    res.setHeader('location', `${thief.origin}/token`);
    res.end();
  });
  const registry = await listen((req, res) => {
    res.statusCode = 401;
    res.setHeader('www-authenticate', `Bearer realm="${realm.origin}/token",service="s"`);
    res.end();
  });
  t.after(() => {
    for (const s of [thief.server, realm.server, registry.server]) {
      s.closeAllConnections();
      s.close();
    }
  });
  const c = new OrasResourceClient({
    plainHttp: true,
    homeDir: home,
    dockerConfig: [],
    credentials: { identityToken: 'REFRESH-TOKEN-SECRET' },
    retry: { maxRetries: 0 },
  });
  t.after(() => c.close());
  await assert.rejects(c.resolve(`oras://${registry.origin.slice('http://'.length)}/a/b:t`), (e: unknown) => {
    assert.ok(e instanceof OrasflyError);
    assert.match(e.message, /refusing to send the POST body to http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(!e.message.includes('REFRESH-TOKEN-SECRET'));
    return true;
  });
  assert.deepEqual(seen, [], 'the other origin got no request');
});

/** A registry stub: GET /v2/<repo>/manifests/<tag> answers from `statuses` in turn, then a manifest. */
async function flakyRegistry(statuses: number[], extraHeaders: Record<string, string> = {}) {
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.sylabs.sif.config.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 },
    layers: [{ mediaType: 'application/vnd.sylabs.sif.layer.v1.sif', digest: `sha256:${'1'.repeat(64)}`, size: 10 }],
  });
  let manifestGets = 0;
  const { server, origin } = await listen((req, res) => {
    if (req.url === '/v2/') return res.writeHead(200).end('{}');
    if (req.url?.includes('/manifests/')) {
      const status = statuses[manifestGets++];
      if (status !== undefined)
        return res
          .writeHead(status, extraHeaders)
          .end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'try later' }] }));
      return res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(manifest);
    }
    res.writeHead(404).end();
  });
  return { server, host: origin.replace('http://', ''), gets: () => manifestGets };
}

test('5xx answers are retried with backoff until one succeeds', async (t) => {
  const reg = await flakyRegistry([503, 502]);
  t.after(() => reg.server.close());
  const c = new OrasResourceClient({ plainHttp: true, registryConfig: [], retry: { minDelay: 1, maxDelay: 2 } });
  t.after(() => c.close());
  const r = await c.resolve(`oras://${reg.host}/a/b:v1`);
  assert.equal(r.size, 10);
  assert.equal(reg.gets(), 3);
});

test('a 404 is not retried, and a retry budget that runs out ends with the last answer', async (t) => {
  const nf = await flakyRegistry([404, 404, 404]);
  t.after(() => nf.server.close());
  const c = new OrasResourceClient({
    plainHttp: true,
    registryConfig: [],
    retry: { minDelay: 1, maxDelay: 2, maxRetries: 2 },
  });
  t.after(() => c.close());
  await assert.rejects(
    c.resolve(`oras://${nf.host}/a/b:v1`),
    (e: unknown) => e instanceof OrasflyError && (e as { status?: number }).status === 404,
  );
  assert.equal(nf.gets(), 1);
  const down = await flakyRegistry([503, 503, 503, 503]);
  t.after(() => down.server.close());
  await assert.rejects(
    c.resolve(`oras://${down.host}/a/b:v1`),
    (e: unknown) => (e as { status?: number }).status === 503,
  );
  assert.equal(down.gets(), 3, 'one attempt and two retries');
});

test('a Retry-After longer than retry.maxRetryAfter fails at once instead of waiting', async (t) => {
  const reg = await flakyRegistry([429], { 'retry-after': '3600' });
  t.after(() => reg.server.close());
  const c = new OrasResourceClient({
    plainHttp: true,
    registryConfig: [],
    retry: { minDelay: 1, maxDelay: 2, maxRetryAfter: '1s' },
  });
  t.after(() => c.close());
  await assert.rejects(
    c.resolve(`oras://${reg.host}/a/b:v1`),
    (e: unknown) => (e as { registryCode?: string }).registryCode === 'RETRY_AFTER_TOO_LONG',
  );
  assert.equal(reg.gets(), 1);
});

test('oras.maxRedirects bounds the redirects followed per request', async (t) => {
  let hits = 0;
  const { server, origin } = await listen((req, res) => {
    if (req.url === '/v2/') return res.writeHead(200).end('{}');
    hits++;
    res.writeHead(307, { location: `${req.url}x` }).end();
  });
  t.after(() => server.close());
  const c = new OrasResourceClient({ plainHttp: true, registryConfig: [], maxRedirects: 2, retry: { maxRetries: 0 } });
  t.after(() => c.close());
  await assert.rejects(
    c.resolve(`oras://${origin.replace('http://', '')}/a/b:v1`),
    (e: unknown) =>
      (e as { registryCode?: string }).registryCode === 'TOO_MANY_REDIRECTS' &&
      /more than 2 redirects \(oras\.maxRedirects\)/.test((e as Error).message),
  );
  assert.equal(hits, 3, 'the request and two redirects');
});
