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
import { OrasflyError } from '../../../../src/errors.js';

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
