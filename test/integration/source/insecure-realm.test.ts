// A registry reached over verified TLS that names a plain-HTTP token realm: credentials must not be
// sent there (0.1.0 sent `Authorization: Basic …` over plain HTTP). Real TLS, with the harness's CA.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry, type RunningRegistry } from '../../harness/index.js';
import { OrasResourceClient } from '../../../src/source/oras/oras-resource-client.js';
import { AuthError } from '../../../src/core/errors.js';

let reg: RunningRegistry;
let registry: https.Server;
let realm: http.Server;
let home: string;
const realmRequests: { authorization: string | undefined }[] = [];

before(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'orasfly-realm-'));
  // Only for its certificates: a CA and a server cert for 127.0.0.1.
  reg = await startRegistry({ variant: 'tls' });
  realm = http.createServer((req, res) => {
    realmRequests.push({ authorization: req.headers.authorization });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ token: 'anonymous-token-value' }));
  });
  await new Promise<void>((r) => realm.listen(0, '127.0.0.1', r));
  const realmUrl = `http://127.0.0.1:${(realm.address() as AddressInfo).port}/token`;
  registry = https.createServer(
    {
      cert: readFileSync(path.join(reg.rootDir, 'server.pem')),
      key: readFileSync(path.join(reg.rootDir, 'server-key.pem')),
    },
    (req, res) => {
      if (req.headers.authorization === 'Bearer anonymous-token-value' && req.url?.includes('/manifests/')) {
        res.statusCode = 404;
        res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no such tag"}]}');
        return;
      }
      res.statusCode = 401;
      res.setHeader('www-authenticate', `Bearer realm="${realmUrl}",service="test"`);
      res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    },
  );
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
});
after(async () => {
  registry?.closeAllConnections();
  realm?.closeAllConnections();
  await new Promise((r) => registry?.close(r));
  await new Promise((r) => realm?.close(r));
  await reg?.stop();
  rmSync(home, { recursive: true, force: true });
});

const ref = () => `oras://127.0.0.1:${(registry.address() as AddressInfo).port}/lab/img:v1`;

test('credentials are refused to a plain-HTTP realm named by an HTTPS registry; nothing reaches the realm', async () => {
  const c = new OrasResourceClient({
    caFile: reg.caFile,
    homeDir: home,
    dockerConfig: [],
    credentials: { username: 'alice', password: 'pa55-word-xyz' },
  });
  try {
    await assert.rejects(c.resolve(ref()), (e: unknown) => {
      assert.ok(e instanceof AuthError, String(e));
      assert.equal(e.registryCode, 'INSECURE_TOKEN_REALM');
      assert.match(
        e.message,
        /refusing to send credentials for 127\.0\.0\.1:\d+ to the plain-HTTP token realm http:\/\/127\.0\.0\.1:\d+/,
      );
      assert.ok(!e.message.includes('pa55-word-xyz'));
      return true;
    });
    assert.equal(realmRequests.length, 0, 'the realm got no request at all');
  } finally {
    await c.close();
  }
});

test('an anonymous pull may take a token from a plain-HTTP realm: there is no secret to leak', async () => {
  const c = new OrasResourceClient({ caFile: reg.caFile, homeDir: home, dockerConfig: [] });
  try {
    // The registry then says the tag does not exist: the token flow itself went through.
    await assert.rejects(
      c.resolve(ref()),
      (e: unknown) => (e as { registryCode?: string }).registryCode === 'MANIFEST_UNKNOWN',
    );
    assert.equal(realmRequests.length, 1);
    assert.equal(realmRequests[0]!.authorization, undefined);
  } finally {
    await c.close();
  }
});
