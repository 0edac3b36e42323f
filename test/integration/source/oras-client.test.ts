// OrasResourceClient against the real registry: every auth variant, token single-flight, TLS,
// redirects to a blob store, and no credential in debug output or error messages.
// The registry client against real registries: every auth variant, manifests, ranges, redirects.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import debug from 'debug';
import {
  startRegistry,
  pushSif,
  SIF_LAYER_MEDIA_TYPE,
  type RunningRegistry,
  type PushedArtifact,
} from '../../harness/index.js';
import { OrasResourceClient } from '../../../src/source/oras/oras-resource-client.js';
import { AuthError, TlsError } from '../../../src/core/errors.js';

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

// Capture every debug line of orasfly while this file runs: none may hold a secret.
const logLines: string[] = [];
const originalLog = debug.log;
before(() => {
  debug.enable('orasfly:*');
  debug.log = (...args: unknown[]) => {
    logLines.push(args.map(String).join(' '));
  };
});
after(() => {
  debug.disable();
  debug.log = originalLog;
});

const registries: RunningRegistry[] = [];
const clients: OrasResourceClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(registries.map((r) => r.stop()));
});
function client(o: ConstructorParameters<typeof OrasResourceClient>[0] = {}): OrasResourceClient {
  // An empty home: no credentials from this machine's files leak into the tests.
  const c = new OrasResourceClient({ homeDir: emptyHome, dockerConfig: [], ...o });
  clients.push(c);
  return c;
}
let emptyHome: string;
before(() => {
  emptyHome = mkdtempSync(path.join(tmpdir(), 'orasfly-home-'));
});
after(() => rmSync(emptyHome, { recursive: true, force: true }));

const secrets: string[] = [];

for (const variant of ['anonymous', 'basic', 'token'] as const) {
  test(`${variant}: resolve gives the layer's digest, size and media type; read hashes to the digest`, async () => {
    const reg = await startRegistry({ variant });
    registries.push(reg);
    if (reg.credentials)
      secrets.push(
        reg.credentials.password,
        Buffer.from(`${reg.credentials.username}:${reg.credentials.password}`).toString('base64'),
      );
    const pushed = await pushSif(reg, 'a/b/img', 'v1', { size: 1024 * 1024 + 17, seed: 1 });
    const c = client(reg.credentials ? { credentials: reg.credentials } : {});
    const r = await c.resolve(reg.ref('a/b/img:v1'));
    assert.equal(r.digest, pushed.layer.digest);
    assert.equal(r.size, pushed.layer.size);
    assert.equal(r.mediaType, SIF_LAYER_MEDIA_TYPE);
    assert.equal(r.manifestDigest, pushed.manifestDigest);
    assert.equal(r.tag, 'v1');
    assert.equal(r.resolvedUrl, `oras://${reg.host}/a/b/img:v1?digest=${encodeURIComponent(pushed.layer.digest)}`);
    const { body, range } = await c.read(r);
    assert.deepEqual(range, { start: 0, length: pushed.layer.size });
    assert.equal(sha256(await readAll(body)), pushed.layer.digest);
    // A reference by digest resolves to the same blob.
    const byDigest = await c.resolve(reg.ref(`a/b/img@${pushed.manifestDigest}`));
    assert.equal(byDigest.digest, pushed.layer.digest);
    if (variant !== 'anonymous') {
      // Wrong credentials: a typed auth error that carries the status and never the password.
      const wrong = client({ credentials: { username: reg.credentials!.username, password: 'not-the-password-xyz' } });
      await assert.rejects(wrong.resolve(reg.ref('a/b/img:v1')), (e: unknown) => {
        assert.ok(e instanceof AuthError, String(e));
        assert.equal(e.status, 401);
        assert.ok(!e.message.includes('not-the-password-xyz'));
        assert.ok(!e.message.includes(reg.credentials!.password));
        return true;
      });
      // Anonymous against a protected registry: typed too.
      await assert.rejects(client().resolve(reg.ref('a/b/img:v1')), AuthError);
    }
  });
}

test('basic: credentials found in ~/.singularity/docker-config.json (upstream file) via an injected home', async () => {
  const reg = registries.find((r) => r.variant === 'basic')!;
  const home = mkdtempSync(path.join(tmpdir(), 'orasfly-home-'));
  try {
    mkdirSync(path.join(home, '.singularity'));
    const auth = Buffer.from(`${reg.credentials!.username}:${reg.credentials!.password}`).toString('base64');
    writeFileSync(
      path.join(home, '.singularity', 'docker-config.json'),
      JSON.stringify({ auths: { [reg.host]: { auth } } }),
    );
    const c = new OrasResourceClient({ homeDir: home, dockerConfig: [] });
    clients.push(c);
    const r = await c.resolve(reg.ref('a/b/img:v1'));
    assert.ok(r.size > 0);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('token: 20 concurrent reads of one repo fetch the token once', async () => {
  const reg = registries.find((r) => r.variant === 'token')!;
  const target = await client({ credentials: reg.credentials }).resolve(reg.ref('a/b/img:v1'));
  const cold = client({ credentials: reg.credentials });
  const before = reg.tokenServer!.tokenRequests;
  const bodies = await Promise.all(Array.from({ length: 20 }, () => cold.read(target).then((r) => readAll(r.body))));
  assert.equal(reg.tokenServer!.tokenRequests - before, 1);
  assert.equal(cold.tokenFetchCount, 1);
  for (const b of bodies) assert.equal(sha256(b), target.digest);
});

test('tls: typed TlsError by default; works with caFile and with insecureSkipVerify', async () => {
  const reg = await startRegistry({ variant: 'tls' });
  registries.push(reg);
  const pushed: PushedArtifact = await pushSif(reg, 'tls/img', 'v1', { size: 256 * 1024, seed: 3 });
  const ref = reg.ref('tls/img:v1');
  // Default options: a loopback registry is tried over TLS first, and a certificate problem never
  // falls back to plain HTTP.
  for (const strict of [client(), client({ plainHttp: false })]) {
    await assert.rejects(strict.resolve(ref), (e: unknown) => e instanceof TlsError && e.code === 'ERR_ORASFLY_TLS');
    assert.ok(strict.requestCount === 1, `TLS failures are not retried (requests: ${strict.requestCount})`);
  }
  for (const o of [{ caFile: reg.caFile! }, { insecureSkipVerify: true }, { caFile: reg.caFile!, plainHttp: false }]) {
    const c = client(o);
    const r = await c.resolve(ref);
    assert.equal(r.digest, pushed.layer.digest);
    assert.equal(sha256(await readAll((await c.read(r)).body)), pushed.layer.digest);
  }
});

test('redirect: blob reads follow 307 to another origin and drop Authorization there', async () => {
  const reg = await startRegistry({ variant: 'redirect' });
  registries.push(reg);
  const pushed = await pushSif(reg, 'redir/img', 'v1', { size: 512 * 1024, seed: 4 });
  const c = client();
  const r = await c.resolve(reg.ref('redir/img:v1'));
  const before = reg.blobOrigin!.requests;
  // A caller-supplied Authorization goes to the registry but must not reach the blob store
  // (which answers 400 to any Authorization, as S3 does).
  const headers = {
    Authorization: 'Basic dXNlcjpyZWRpcmVjdC1zZWNyZXQ=',
    'X-Auth-Token': 'custom-redirect-secret',
    Accept: 'application/octet-stream',
  };
  secrets.push('custom-redirect-secret');
  secrets.push('dXNlcjpyZWRpcmVjdC1zZWNyZXQ=');
  const { body } = await c.read(r, undefined, { headers });
  assert.equal(sha256(await readAll(body)), pushed.layer.digest);
  const part = await c.read(r, { start: 1000, length: 5000 }, { headers });
  assert.equal((await readAll(part.body)).length, 5000);
  assert.ok(reg.blobOrigin!.requests - before >= 2);
  // Only allow-listed headers follow a redirect to another origin: no custom token either.
  const seen = reg.blobOrigin!.headersSeen.slice(-2);
  for (const names of seen) {
    assert.ok(!names.includes('x-auth-token') && !names.includes('authorization'), names.join(','));
    assert.ok(names.includes('accept'));
  }
});

test('no credential or token ever appears in debug output or error messages', () => {
  assert.ok(logLines.length > 20, 'debug output was captured');
  const all = logLines.join('\n');
  for (const s of secrets) assert.ok(!all.includes(s), 'a secret leaked into debug output');
  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(all), 'a JWT leaked into debug output');
  assert.ok(!/(Basic|Bearer) (?!<redacted>)[A-Za-z0-9+/=._-]{6,}/.test(all), 'an Authorization value leaked');
  assert.match(all, /orasfly:auth/);
});
