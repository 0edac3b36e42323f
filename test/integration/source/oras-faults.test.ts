// OrasResourceClient through the fault proxy: retries (reset, 429 + Retry-After, 503), a 404 that
// fails at once, exact ranged reads, a proxy that ignores Range, index/layer choice, manifest
// limits, aborts during backoff, and malformed references that never reach the network.
// The registry client under faults (the fault proxy): retries, Retry-After, aborts, ranges.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  startRegistry,
  startFaultProxy,
  pushSif,
  pushArtifact,
  pushIndex,
  layerBytes,
  type RunningRegistry,
  type FaultProxy,
  type PushedArtifact,
} from '../../harness/index.js';
import { OrasResourceClient } from '../../../src/source/oras/oras-resource-client.js';
import {
  InvalidReferenceError,
  ManifestError,
  RangeNotSupportedError,
  RegistryResponseError,
  SizeLimitError,
  TimeoutError,
} from '../../../src/core/errors.js';

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let reg: RunningRegistry;
let proxy: FaultProxy;
let sif: PushedArtifact;
let home: string;
const SIZE = 2 * 1024 * 1024 + 3;
const clients: OrasResourceClient[] = [];
function client(o: ConstructorParameters<typeof OrasResourceClient>[0] = {}): OrasResourceClient {
  // Short backoffs keep the file fast; Retry-After still wins over them.
  const c = new OrasResourceClient({ homeDir: home, dockerConfig: [], retry: { minDelay: 20, maxDelay: 100 }, ...o });
  clients.push(c);
  return c;
}

before(async () => {
  home = mkdtempSync(path.join(tmpdir(), 'orasfly-home-'));
  reg = await startRegistry({ variant: 'anonymous' });
  proxy = await startFaultProxy(reg.origin);
  sif = await pushSif(reg, 'f/img', 'v1', { size: SIZE, seed: 7 });
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await proxy?.close();
  await reg?.stop();
  rmSync(home, { recursive: true, force: true });
});

const ref = (repoAndTag: string): string => reg.ref(repoAndTag, proxy.host);

test('resets, 429 with Retry-After: 1 and 503s are retried to success', async () => {
  const c = client();
  const target = await c.resolve(ref('f/img:v1'));

  proxy.clearRules();
  proxy.resetLog();
  proxy.addRule({ blobsOnly: true, times: 2, fault: { kind: 'reset' } });
  assert.equal(sha256(await readAll((await c.read(target)).body)), sif.layer.digest);
  assert.equal(proxy.blobRequests().length, 3);

  proxy.resetLog();
  proxy.addRule({
    blobsOnly: true,
    times: 1,
    fault: {
      kind: 'status',
      status: 429,
      headers: { 'Retry-After': '1' },
      body: '{"errors":[{"code":"TOOMANYREQUESTS"}]}',
    },
  });
  const t0 = Date.now();
  assert.equal(sha256(await readAll((await c.read(target)).body)), sif.layer.digest);
  assert.ok(Date.now() - t0 >= 950, 'Retry-After: 1 was honoured');
  assert.deepEqual(
    proxy.blobRequests().map((r) => r.status),
    [429, 200],
  );

  proxy.resetLog();
  proxy.addRule({ blobsOnly: true, times: 3, fault: { kind: 'status', status: 503 } });
  assert.equal(sha256(await readAll((await c.read(target)).body)), sif.layer.digest);
  assert.deepEqual(
    proxy.blobRequests().map((r) => r.status),
    [503, 503, 503, 200],
  );

  // Manifest requests are retried too.
  proxy.resetLog();
  proxy.addRule({ path: /\/manifests\//, times: 1, fault: { kind: 'status', status: 502 } });
  assert.equal((await c.resolve(ref('f/img:v1'))).digest, sif.layer.digest);
  proxy.clearRules();
});

test('a 404 blob fails at once with status 404 and BLOB_UNKNOWN', async () => {
  const c = client();
  proxy.resetLog();
  const missing = { url: ref('f/img:v1'), digest: `sha256:${'0'.repeat(64)}`, size: 10, mediaType: 'x' };
  await assert.rejects(c.read(missing), (e: unknown) => {
    assert.ok(e instanceof RegistryResponseError, String(e));
    assert.equal(e.status, 404);
    assert.equal(e.registryCode, 'BLOB_UNKNOWN');
    return true;
  });
  assert.equal(proxy.blobRequests().length, 1);
  // An unknown tag: MANIFEST_UNKNOWN, not retried either.
  proxy.resetLog();
  await assert.rejects(
    c.resolve(ref('f/img:nope')),
    (e: unknown) => e instanceof RegistryResponseError && e.status === 404 && e.registryCode === 'MANIFEST_UNKNOWN',
  );
  assert.equal(proxy.requests.length, 1);
});

// A backoff that ignored the signal would wait the 20 s Retry-After: the test's timeout says so.
test('an abort cancels a pending backoff at once', { timeout: 10_000 }, async () => {
  const c = client();
  const target = await c.resolve(ref('f/img:v1'));
  proxy.addRule({
    blobsOnly: true,
    times: 1,
    fault: { kind: 'status', status: 503, headers: { 'Retry-After': '20' } },
  });
  const ac = new AbortController();
  const reason = new Error('user cancelled');
  const p = c.read(target, undefined, { signal: ac.signal });
  // Abort once the registry has answered 503: the client is then in its backoff.
  await proxy.waitFor((r) => r.status === 503);
  ac.abort(reason);
  await assert.rejects(p, (e) => e === reason);
  assert.equal(proxy.blobRequests().length, 1, 'no retry was sent after the abort');
  proxy.clearRules();
});

test('ranged reads of 3 random spans return exactly those bytes', async () => {
  const c = client();
  const target = await c.resolve(ref('f/img:v1'));
  assert.equal(await c.supportsRange(target), true);
  const all = layerBytes({ size: SIZE, seed: 7 });
  let seed = 99;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const spans = [{ start: SIZE - 1, length: 1 }];
  for (let i = 0; i < 3; i++) {
    const start = rand(SIZE - 1);
    spans.push({ start, length: 1 + rand(SIZE - start) });
  }
  for (const span of spans) {
    const { body, range } = await c.read(target, span);
    assert.deepEqual(range, span);
    assert.ok(
      (await readAll(body)).equals(all.subarray(span.start, span.start + span.length)),
      `span ${span.start}+${span.length}`,
    );
  }
});

test('a proxy that ignores Range: supportsRange is false and ranged reads throw RangeNotSupportedError', async () => {
  const c = client();
  const target = await c.resolve(ref('f/img:v1'));
  proxy.addRule({ blobsOnly: true, fault: { kind: 'ignoreRange' } });
  try {
    assert.equal(await c.supportsRange(target), false);
    await assert.rejects(c.read(target, { start: 10, length: 100 }), RangeNotSupportedError);
    // Whole reads still work.
    assert.equal(sha256(await readAll((await c.read(target)).body)), sif.layer.digest);
  } finally {
    proxy.clearRules();
  }
});

test('an index with two platforms picks the requested one', async () => {
  const ix = await pushIndex(reg, 'f/multi', 'v1', [
    { os: 'linux', architecture: 'amd64', layer: { size: 1000, seed: 11 } },
    { os: 'linux', architecture: 'arm64', layer: { size: 2000, seed: 12 } },
  ]);
  for (const [i, architecture] of [
    [0, 'amd64'],
    [1, 'arm64'],
  ] as const) {
    const r = await client({ platform: { os: 'linux', architecture } }).resolve(ref('f/multi:v1'));
    assert.equal(r.digest, ix.manifests[i]!.layer.digest);
    assert.equal(r.manifestDigest, ix.manifests[i]!.manifestDigest);
    assert.equal(r.indexDigest, ix.indexDigest);
  }
  await assert.rejects(
    client({ platform: { os: 'windows', architecture: 'amd64' } }).resolve(ref('f/multi:v1')),
    ManifestError,
  );
});

test("several non-SIF layers: refused without an option (listing them), the chosen one with; -1 is Dragonfly's last-layer rule", async () => {
  const art = await pushArtifact(reg, 'f/layers', 'v1', {
    layers: [
      { mediaType: 'application/x-a', size: 100 },
      { mediaType: 'application/x-b', size: 200 },
      { mediaType: 'application/x-c', size: 300 },
    ],
  });
  await assert.rejects(
    client().resolve(ref('f/layers:v1')),
    (e: unknown) => e instanceof ManifestError && /3 layers and no SIF layer/.test((e as Error).message),
  );
  assert.equal((await client({ layerIndex: -1 }).resolve(ref('f/layers:v1'))).digest, art.layers[2]!.digest);
  assert.equal(
    (await client({ layerMediaType: 'application/x-a' }).resolve(ref('f/layers:v1'))).digest,
    art.layers[0]!.digest,
  );
  assert.equal((await client({ layerIndex: 1 }).resolve(ref('f/layers:v1'))).digest, art.layers[1]!.digest);
  const docker = await pushArtifact(reg, 'f/docker', 'v1', {
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 50 }],
    manifestType: 'docker',
  });
  assert.equal((await client().resolve(ref('f/docker:v1'))).digest, docker.layer.digest);
});

test('a manifest over 4 MiB and a non-JSON manifest fail with typed errors', async () => {
  const c = client();
  const big = JSON.stringify({ schemaVersion: 2, layers: [], annotations: { pad: 'x'.repeat(4 * 1024 * 1024) } });
  proxy.addRule({
    path: /\/manifests\/big$/,
    fault: {
      kind: 'status',
      status: 200,
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: big,
    },
  });
  proxy.addRule({
    path: /\/manifests\/html$/,
    fault: {
      kind: 'status',
      status: 200,
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: '<html>login</html>',
    },
  });
  try {
    await assert.rejects(
      c.resolve(ref('f/img:big')),
      (e: unknown) => e instanceof SizeLimitError && e.limit === 4 * 1024 * 1024,
    );
    await assert.rejects(
      c.resolve(ref('f/img:html')),
      (e: unknown) => e instanceof ManifestError && /not valid JSON/.test(e.message),
    );
    // A smaller limit is honoured while counting too.
    await assert.rejects(client({ maxManifestBytes: 100 }).resolve(ref('f/img:v1')), SizeLimitError);
  } finally {
    proxy.clearRules();
  }
});

test('30+ malformed references are rejected before any network request', async () => {
  const c = client();
  const h = proxy.host;
  const bad = [
    `oras://${h}`,
    `oras://${h}/`,
    `oras://${h}/Upper/img:v1`,
    `oras://${h}/a/../img:v1`,
    `oras://${h}/./img:v1`,
    `oras://${h}//img:v1`,
    `oras://${h}/img/:v1`,
    `oras://${h}/a%2F..%2Fimg:v1`,
    `oras://${h}/%2e%2e/img:v1`,
    `oras://${h}/a\\img:v1`,
    `oras://${h}/img:-v1`,
    `oras://${h}/img:`,
    `oras://${h}/img:${'t'.repeat(200)}`,
    `oras://${h}/img@sha256:1234`,
    `oras://${h}/img@sha256:${'G'.repeat(64)}`,
    `oras://${h}/img@md5:${'a'.repeat(32)}`,
    `oras://${h}/img:v1#frag`,
    `oras://${h}/img:v1?x=1`,
    `oras://${h}/img:v1?digest=nope`,
    `oras://user:pw@${h}/img:v1`,
    `oras://${h.replace(/:\d+$/, ':0')}/img:v1`,
    `oras://${h.replace(/:\d+$/, ':70000')}/img:v1`,
    `oras://${h.replace(/:\d+$/, ':port')}/img:v1`,
    `oras://-bad-/img:v1`,
    `oras://300.0.0.1/img:v1`,
    `http://${h}/img:v1`,
    `${h}/img:v1`,
    `oras://${h}/img name:v1`,
    `oras://${h}/img:v1:v2`,
    `oras://${h}/img..x:v1`,
    `oras://${h}/${'a'.repeat(300)}:v1`,
    '',
  ];
  assert.ok(bad.length >= 30);
  proxy.resetLog();
  for (const u of bad) {
    await assert.rejects(c.resolve(u), InvalidReferenceError, u);
    await assert.rejects(
      c.read({ url: u, digest: sif.layer.digest, size: 1, mediaType: 'x' }),
      InvalidReferenceError,
      u,
    );
  }
  assert.equal(proxy.requests.length, 0);
  assert.equal(c.requestCount, 0);
});

test('a Retry-After beyond retry.maxRetryAfter fails at once instead of holding the pull', async () => {
  const c = client();
  const target = await c.resolve(ref('f/img:v1'));
  proxy.clearRules();
  proxy.resetLog();
  proxy.addRule({ blobsOnly: true, fault: { kind: 'status', status: 503, headers: { 'Retry-After': '99999999' } } });
  try {
    await assert.rejects(
      c.read(target),
      (e: unknown) =>
        e instanceof RegistryResponseError &&
        e.registryCode === 'RETRY_AFTER_TOO_LONG' &&
        /retry after 99999999 s, longer than retry\.maxRetryAfter \(30 s\)/.test(e.message),
    );
    assert.equal(proxy.blobRequests().length, 1, 'asked once, not retried');
  } finally {
    proxy.clearRules();
  }
});

test('a redirect to a non-HTTP URL is refused with a clear message, not ERR_INVALID_URL', async () => {
  const c = client();
  const target = await c.resolve(ref('f/img:v1'));
  for (const location of ['file:///etc/passwd', 'ftp://example.com/x', 'http://[::1']) {
    proxy.clearRules();
    proxy.addRule({
      blobsOnly: true,
      times: 1,
      fault: { kind: 'status', status: 302, headers: { Location: location } },
    });
    await assert.rejects(
      c.read(target),
      (e: unknown) =>
        e instanceof RegistryResponseError &&
        e.registryCode === 'BAD_REDIRECT' &&
        /redirect to a non-HTTP URL refused|is not a URL/.test(e.message),
      location,
    );
  }
  proxy.clearRules();
});

test('resolve() has a deadline of its own (oras.metadataTimeout), whatever the registry does', async () => {
  const c = client({ metadataTimeout: 300, retry: { minDelay: 20, maxDelay: 100 } });
  proxy.clearRules();
  // Headers that do not come within the deadline (the proxy holds the request for 20 s).
  proxy.addRule({ path: /\/manifests\//, fault: { kind: 'delay', ms: 20_000 } });
  try {
    await assert.rejects(
      c.resolve(ref('f/img:v1')),
      (e: unknown) =>
        e instanceof TimeoutError &&
        /resolving .*f\/img:v1 \(oras\.metadataTimeout\) timed out after 300 ms/.test(e.message),
    );
  } finally {
    proxy.clearRules();
  }
  // The same client still works once the registry answers again.
  assert.equal((await c.resolve(ref('f/img:v1'))).digest, sif.layer.digest);
});
