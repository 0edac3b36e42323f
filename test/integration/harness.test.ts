// Proves the real-registry harness itself, with plain node:http(s) requests (no orasfly code):
// every registry variant starts and behaves as configured, pushed artifacts are fetchable and
// byte-exact, the token server issues tokens the registry accepts, and every fault of the fault
// proxy observably happens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import {
  startRegistry,
  startFaultProxy,
  pidAlive,
  pushSif,
  pushArtifact,
  pushIndex,
  tagBlobAs,
  putRawManifest,
  layerBytes,
  SIF_LAYER_MEDIA_TYPE,
  SIF_CONFIG_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  OCI_INDEX_MEDIA_TYPE,
  DOCKER_MANIFEST_MEDIA_TYPE,
  DOCKER_MANIFEST_LIST_MEDIA_TYPE,
  type RunningRegistry,
  type RegistryVariant,
  type FaultProxy,
  type PushedArtifact,
} from '../harness/index.js';

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Set when the connection failed before or during the body. */
  error?: NodeJS.ErrnoException;
}

/** One request on a fresh connection; resolves even when the connection breaks (see `error`). */
function get(url: string, opts: { method?: string; headers?: Record<string, string>; ca?: Buffer } = {}): Promise<Got> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    let responded = false;
    const req = mod.request(
      u,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: false, ...(opts.ca ? { ca: opts.ca } : {}) },
      (res) => {
        responded = true;
        const chunks: Buffer[] = [];
        let error: NodeJS.ErrnoException | undefined;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => (error = e));
        res.on('close', () => {
          const out: Got = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
          if (!res.complete) out.error = error ?? Object.assign(new Error('incomplete body'), { code: 'ECONNRESET' });
          resolve(out);
        });
      },
    );
    // A socket error after the headers is reported on the request too; the response's 'close' then
    // resolves with what arrived.
    req.on('error', (e) => {
      if (!responded) resolve({ status: 0, headers: {}, body: Buffer.alloc(0), error: e });
    });
    req.end();
  });
}

const sha = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const basicAuth = (reg: RunningRegistry): Record<string, string> => ({
  Authorization: `Basic ${Buffer.from(`${reg.credentials!.username}:${reg.credentials!.password}`).toString('base64')}`,
});
const OCI_ACCEPT = { Accept: OCI_MANIFEST_MEDIA_TYPE };

const regs = new Map<RegistryVariant, RunningRegistry>();
let proxyRef: FaultProxy | undefined;
let blobArt: PushedArtifact;
const BLOB_SIZE = 2 * 2 ** 20;
let blobUrl: string;
const reg = (v: RegistryVariant): RunningRegistry => {
  const r = regs.get(v);
  assert.ok(r, `registry ${v} not started`);
  return r;
};

before(async () => {
  // Started together: each is its own process and temp dir; token key generation dominates.
  const variants: RegistryVariant[] = ['anonymous', 'basic', 'token', 'tls', 'redirect'];
  const started = await Promise.allSettled(variants.map((variant) => startRegistry({ variant })));
  started.forEach((s, i) => {
    if (s.status === 'fulfilled') regs.set(variants[i]!, s.value);
  });
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  // The fault proxy sits in front of the anonymous registry (one hook: root-level hooks of
  // node:test do not wait for each other).
  const proxy = (proxyRef = await startFaultProxy(reg('anonymous').origin));
  blobArt = await pushSif(reg('anonymous'), 'faults/sif', 'v1', { size: BLOB_SIZE, seed: 77 });
  blobUrl = `${proxy.origin}/v2/faults/sif/blobs/${blobArt.layer.digest}`;
});

after(async () => {
  await proxyRef?.close();
  const all = [...regs.values()];
  await Promise.all(all.map((r) => r.stop()));
  for (const r of all) {
    assert.equal(pidAlive(r.pid), false, `registry ${r.variant} pid ${r.pid} still alive`);
    assert.equal(existsSync(r.rootDir), false, `rootDir of ${r.variant} not removed`);
  }
});

test('anonymous: /v2/ answers 200; a pushed SIF is fetchable with the OCI Accept header and byte-exact', async () => {
  const r = reg('anonymous');
  assert.match(r.host, /^127\.0\.0\.1:\d+$/);
  assert.equal(r.origin, `http://${r.host}`);
  assert.equal(r.ref('lib/sif:v1'), `oras://${r.host}/lib/sif:v1`);
  assert.equal(r.ref('lib/sif:v1', '127.0.0.1:1'), 'oras://127.0.0.1:1/lib/sif:v1');

  const v2 = await get(`${r.origin}/v2/`);
  assert.equal(v2.status, 200);
  assert.equal(v2.headers['docker-distribution-api-version'], 'registry/2.0');

  const size = 4 * 2 ** 20 + 123;
  const art = await pushSif(r, 'lib/sif', 'v1', { size, seed: 42 });
  assert.equal(art.manifestMediaType, OCI_MANIFEST_MEDIA_TYPE);
  assert.equal(art.layer.mediaType, SIF_LAYER_MEDIA_TYPE);
  assert.equal(art.layer.size, size);
  assert.equal(art.config.mediaType, SIF_CONFIG_MEDIA_TYPE);

  const m = await get(`${r.origin}/v2/lib/sif/manifests/v1`, { headers: OCI_ACCEPT });
  assert.equal(m.status, 200);
  assert.equal(m.headers['docker-content-digest'], art.manifestDigest);
  assert.deepEqual(m.body, art.manifest);
  const manifest = JSON.parse(m.body.toString('utf8')) as {
    layers: Array<{ digest: string; annotations?: Record<string, string> }>;
  };
  assert.equal(manifest.layers[0]?.digest, art.layer.digest);
  assert.equal(manifest.layers[0]?.annotations?.['org.opencontainers.image.title'], 'sif.sif');
  // The registry quirk the client must handle: no OCI Accept, no manifest.
  assert.equal((await get(`${r.origin}/v2/lib/sif/manifests/v1`)).status, 404);

  const blob = await get(`${r.origin}/v2/lib/sif/blobs/${art.layer.digest}`);
  assert.equal(blob.status, 200);
  assert.equal(sha(blob.body), art.layer.digest);
  assert.deepEqual(blob.body, layerBytes({ size, seed: 42 }));

  const ranged = await get(`${r.origin}/v2/lib/sif/blobs/${art.layer.digest}`, {
    headers: { Range: 'bytes=1000-1999' },
  });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers['content-range'], `bytes 1000-1999/${size}`);
  assert.deepEqual(ranged.body, layerBytes({ size, seed: 42 }).subarray(1000, 2000));
});

test('layer bytes are deterministic per seed and differ between seeds', () => {
  assert.deepEqual(layerBytes({ size: 4096, seed: 1 }), layerBytes({ size: 4096, seed: 1 }));
  assert.notDeepEqual(layerBytes({ size: 4096, seed: 1 }), layerBytes({ size: 4096, seed: 2 }));
  // A prefix of a longer layer: generation is position-stable.
  assert.deepEqual(layerBytes({ size: 3 * 2 ** 20, seed: 9 }).subarray(0, 1000), layerBytes({ size: 1000, seed: 9 }));
  assert.deepEqual(layerBytes({ size: 3, data: Uint8Array.from([1, 2, 3]) }), Buffer.from([1, 2, 3]));
});

test('pushArtifact, pushIndex, tagBlobAs and putRawManifest', async () => {
  const r = reg('anonymous');
  const docker = await pushArtifact(r, 'lib/multi', 'docker', {
    manifestType: 'docker',
    layers: [{ size: 1000, seed: 1, mediaType: 'application/octet-stream' }, { data: Buffer.from('hello') }],
  });
  assert.equal(docker.layers.length, 2);
  assert.equal(docker.layer.digest, sha(Buffer.from('hello')));
  const dm = await get(`${r.origin}/v2/lib/multi/manifests/docker`, {
    headers: { Accept: DOCKER_MANIFEST_MEDIA_TYPE },
  });
  assert.equal(dm.status, 200);
  assert.equal(dm.headers['content-type'], DOCKER_MANIFEST_MEDIA_TYPE);

  const idx = await pushIndex(r, 'lib/idx', 'multi', [
    { os: 'linux', architecture: 'amd64', layer: { size: 2048, seed: 10 } },
    { os: 'linux', architecture: 'arm64', variant: 'v8', layer: { size: 2048, seed: 11 } },
  ]);
  const im = await get(`${r.origin}/v2/lib/idx/manifests/multi`, { headers: { Accept: OCI_INDEX_MEDIA_TYPE } });
  assert.equal(im.status, 200);
  assert.equal(im.headers['docker-content-digest'], idx.indexDigest);
  const index = JSON.parse(im.body.toString('utf8')) as {
    manifests: Array<{ digest: string; platform: { architecture: string; variant?: string } }>;
  };
  assert.deepEqual(
    index.manifests.map((d) => [d.digest, d.platform.architecture, d.platform.variant]),
    idx.manifests.map((a) => [a.manifestDigest, a.platform.architecture, a.platform.variant]),
  );
  assert.notEqual(idx.manifests[0]?.layer.digest, idx.manifests[1]?.layer.digest);
  const child = await get(`${r.origin}/v2/lib/idx/manifests/${idx.manifests[1]!.manifestDigest}`, {
    headers: OCI_ACCEPT,
  });
  assert.equal(child.status, 200);

  const list = await pushIndex(
    r,
    'lib/idx',
    'list',
    [{ os: 'linux', architecture: 'amd64', layer: { size: 10 } }],
    'docker',
  );
  const lm = await get(`${r.origin}/v2/lib/idx/manifests/list`, {
    headers: { Accept: DOCKER_MANIFEST_LIST_MEDIA_TYPE },
  });
  assert.equal(lm.status, 200);
  assert.equal(lm.headers['docker-content-digest'], list.indexDigest);

  const src = await pushSif(r, 'lib/orig', 'v1', { size: 5000 });
  const copy = await tagBlobAs(r, src, 'other/copy', 'latest');
  assert.equal(copy.layer.digest, src.layer.digest);
  const blob = await get(`${r.origin}/v2/other/copy/blobs/${src.layer.digest}`);
  assert.equal(blob.status, 200);
  assert.equal(sha(blob.body), src.layer.digest);
  assert.equal((await get(`${r.origin}/v2/other/copy/manifests/latest`, { headers: OCI_ACCEPT })).status, 200);

  // The registry validates manifests: garbage is refused, and the helper says so.
  await assert.rejects(
    putRawManifest(r, 'lib/hostile', 'x', Buffer.from('not json'), OCI_MANIFEST_MEDIA_TYPE),
    /HTTP 400/,
  );
});

test('basic: /v2/ challenges with Basic; harness credentials push and pull', async () => {
  const r = reg('basic');
  assert.ok(r.credentials && r.credentials.password.length >= 12);
  const v2 = await get(`${r.origin}/v2/`);
  assert.equal(v2.status, 401);
  assert.equal(v2.headers['www-authenticate'], 'Basic realm="orasfly-test"');
  assert.equal((await get(`${r.origin}/v2/`, { headers: basicAuth(r) })).status, 200);
  const wrong = `Basic ${Buffer.from(`${r.credentials.username}:nope`).toString('base64')}`;
  assert.equal((await get(`${r.origin}/v2/`, { headers: { Authorization: wrong } })).status, 401);

  const art = await pushSif(r, 'private/sif', 'v1', { size: 2 ** 20 });
  const m = await get(`${r.origin}/v2/private/sif/manifests/v1`, { headers: { ...OCI_ACCEPT, ...basicAuth(r) } });
  assert.equal(m.status, 200);
  const blob = await get(`${r.origin}/v2/private/sif/blobs/${art.layer.digest}`, { headers: basicAuth(r) });
  assert.equal(sha(blob.body), art.layer.digest);
});

test('token: challenges, token server counts requests and issues tokens the registry accepts', async () => {
  const r = reg('token');
  const ts = r.tokenServer!;
  assert.equal(ts.realm, `${ts.url}/token`);
  const v2 = await get(`${r.origin}/v2/`);
  assert.equal(v2.status, 401);
  assert.equal(v2.headers['www-authenticate'], `Bearer realm="${ts.realm}",service="${ts.service}"`);

  const art = await pushSif(r, 'secure/sif', 'v1', { size: 2 ** 20 });
  const m0 = await get(`${r.origin}/v2/secure/sif/manifests/v1`, { headers: OCI_ACCEPT });
  assert.equal(m0.status, 401);
  assert.equal(
    m0.headers['www-authenticate'],
    `Bearer realm="${ts.realm}",service="${ts.service}",scope="repository:secure/sif:pull"`,
  );

  ts.tokenRequests = 0;
  ts.requests = [];
  const scope = 'repository:secure/sif:pull';
  const tokenUrl = `${ts.realm}?service=${encodeURIComponent(ts.service)}&scope=${encodeURIComponent(scope)}`;
  assert.equal((await get(tokenUrl)).status, 401, 'a scoped token needs credentials');
  const tr = await get(tokenUrl, { headers: basicAuth(r) });
  assert.equal(tr.status, 200);
  const json = JSON.parse(tr.body.toString('utf8')) as {
    token: string;
    access_token: string;
    expires_in: number;
    issued_at: string;
  };
  assert.equal(json.token, json.access_token);
  assert.equal(json.expires_in, 300);
  assert.ok(!Number.isNaN(Date.parse(json.issued_at)));
  const anon = await get(`${ts.realm}?service=${encodeURIComponent(ts.service)}`);
  assert.equal(anon.status, 200, 'anonymous, unscoped tokens are allowed');
  assert.equal(ts.tokenRequests, 3);
  assert.deepEqual(ts.requests, [
    { scope, authorized: false },
    { scope, authorized: true },
    { scope: null, authorized: false },
  ]);

  const bearer = { Authorization: `Bearer ${json.token}` };
  const m = await get(`${r.origin}/v2/secure/sif/manifests/v1`, { headers: { ...OCI_ACCEPT, ...bearer } });
  assert.equal(m.status, 200);
  const blob = await get(`${r.origin}/v2/secure/sif/blobs/${art.layer.digest}`, { headers: bearer });
  assert.equal(sha(blob.body), art.layer.digest);
  // A pull token does not allow push; the registry says which scope it needs.
  const post = await get(`${r.origin}/v2/secure/sif/blobs/uploads/`, { method: 'POST', headers: bearer });
  assert.equal(post.status, 401);
  assert.match(String(post.headers['www-authenticate']), /error="insufficient_scope"/);
  const bad = await get(`${r.origin}/v2/secure/sif/manifests/v1`, {
    headers: { ...OCI_ACCEPT, Authorization: `Bearer ${json.token}x` },
  });
  assert.equal(bad.status, 401);
});

test('tls: https with the generated CA (127.0.0.1 and localhost), refused without it', async () => {
  const r = reg('tls');
  assert.equal(r.origin, `https://${r.host}`);
  const ca = readFileSync(r.caFile!);
  assert.equal((await get(`${r.origin}/v2/`, { ca })).status, 200);
  const port = r.host.split(':')[1]!;
  assert.equal((await get(`https://localhost:${port}/v2/`, { ca })).status, 200);
  const untrusted = await get(`${r.origin}/v2/`);
  assert.equal(untrusted.status, 0);
  assert.ok(untrusted.error, 'the server cert must not be trusted without the CA');

  const art = await pushSif(r, 'tls/sif', 'v1', { size: 2 ** 20 });
  const blob = await get(`${r.origin}/v2/tls/sif/blobs/${art.layer.digest}`, { ca });
  assert.equal(sha(blob.body), art.layer.digest);
});

test('redirect: blob GET/HEAD answer 307 to an S3-like origin that refuses Authorization and serves ranges', async () => {
  const r = reg('redirect');
  const bo = r.blobOrigin!;
  const size = 2 ** 20 + 7;
  const art = await pushSif(r, 'redir/sif', 'v1', { size, seed: 5 });
  const m = await get(`${r.origin}/v2/redir/sif/manifests/v1`, { headers: OCI_ACCEPT });
  assert.equal(m.status, 200, 'manifests are served by the registry itself');

  for (const method of ['GET', 'HEAD']) {
    const res = await get(`${r.origin}/v2/redir/sif/blobs/${art.layer.digest}`, { method });
    assert.equal(res.status, 307, method);
    assert.ok(
      String(res.headers.location).startsWith(`${bo.origin}/docker/registry/v2/blobs/sha256/`),
      String(res.headers.location),
    );
  }
  const location = String((await get(`${r.origin}/v2/redir/sif/blobs/${art.layer.digest}`)).headers.location);
  bo.requests = 0;
  const full = await get(location);
  assert.equal(full.status, 200);
  assert.equal(full.headers['content-length'], String(size));
  assert.equal(sha(full.body), art.layer.digest);
  const head = await get(location, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(size));
  const ranged = await get(location, { headers: { Range: 'bytes=100-199' } });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers['content-range'], `bytes 100-199/${size}`);
  assert.deepEqual(ranged.body, layerBytes({ size, seed: 5 }).subarray(100, 200));
  const suffix = await get(location, { headers: { Range: 'bytes=-10' } });
  assert.equal(suffix.headers['content-range'], `bytes ${size - 10}-${size - 1}/${size}`);
  assert.equal((await get(location, { headers: { Authorization: 'Bearer abc' } })).status, 400);
  assert.equal(bo.requests, 5);
});

// ---------------------------------------------------------------------------------------------
// Fault proxy

/** The shared proxy, with no rules and an empty log. */
function fresh(): FaultProxy {
  assert.ok(proxyRef, 'fault proxy not started');
  proxyRef.clearRules();
  proxyRef.resetLog();
  return proxyRef;
}

test('proxy: passes through, logs requests and counts blob bytes; rewrites upload Locations', async () => {
  const proxy = fresh();
  const m = await get(`${proxy.origin}/v2/faults/sif/manifests/v1`, { headers: OCI_ACCEPT });
  assert.equal(m.status, 200);
  const b = await get(blobUrl);
  assert.equal(b.status, 200);
  assert.equal(sha(b.body), blobArt.layer.digest);
  const rng = await get(blobUrl, { headers: { Range: 'bytes=0-99' } });
  assert.equal(rng.status, 206);
  assert.equal(proxy.requests.length, 3);
  assert.deepEqual(proxy.requests[2], {
    method: 'GET',
    path: `/v2/faults/sif/blobs/${blobArt.layer.digest}`,
    range: 'bytes=0-99',
    status: 206,
    bytesSent: 100,
  });
  assert.equal(proxy.blobRequests().length, 2);
  assert.equal(proxy.blobBytesSent(), BLOB_SIZE + 100);

  // Pushing through the proxy works only if the registry's absolute upload Locations are rewritten.
  const viaProxy: RunningRegistry = { ...reg('anonymous'), origin: proxy.origin, host: proxy.host };
  proxy.resetLog();
  const art = await pushSif(viaProxy, 'faults/pushed', 'v1', { size: 300_000 });
  assert.ok(
    proxy.requests.some((e) => e.method === 'PATCH'),
    'upload went through the proxy',
  );
  const direct = await get(`${reg('anonymous').origin}/v2/faults/pushed/blobs/${art.layer.digest}`);
  assert.equal(sha(direct.body), art.layer.digest);
});

test('proxy: reset before headers, once', async () => {
  const proxy = fresh();
  proxy.addRule({ blobsOnly: true, times: 1, fault: { kind: 'reset' } });
  const first = await get(blobUrl);
  assert.equal(first.status, 0);
  assert.equal(first.error?.code, 'ECONNRESET');
  const second = await get(blobUrl);
  assert.equal(second.status, 200, 'times: 1 applies once');
  assert.deepEqual(
    proxy.requests.map((e) => [e.status, e.fault]),
    [
      [0, 'reset'],
      [200, undefined],
    ],
  );
});

test('proxy: reset and truncate after N body bytes', async () => {
  const proxy = fresh();
  proxy.addRule({ blobsOnly: true, times: 1, fault: { kind: 'reset', afterBytes: 1000 } });
  const reset = await get(blobUrl);
  // An RST may overtake bytes in flight, so the client sees the reset after or before the headers.
  assert.ok(reset.status === 200 || reset.status === 0, String(reset.status));
  assert.equal(reset.error?.code, 'ECONNRESET');
  assert.ok(reset.body.length <= 1000);

  proxy.addRule({ blobsOnly: true, times: 1, fault: { kind: 'truncate', afterBytes: 5000 } });
  const cut = await get(blobUrl);
  assert.equal(cut.status, 200);
  assert.equal(cut.headers['content-length'], String(BLOB_SIZE), 'headers promise the full body');
  assert.equal(cut.body.length, 5000);
  assert.ok(cut.error);
  assert.deepEqual(cut.body, layerBytes({ size: 5000, seed: 77 }));
  assert.deepEqual(
    proxy.requests.map((e) => [e.fault, e.bytesSent]),
    [
      ['reset', 1000],
      ['truncate', 5000],
    ],
  );
});

test('proxy: status faults (429 + Retry-After, 404 JSON) only where the rule matches', async () => {
  const proxy = fresh();
  proxy.addRule({
    method: 'GET',
    path: /\/manifests\//,
    times: 1,
    fault: { kind: 'status', status: 429, headers: { 'Retry-After': '1' } },
  });
  const body = JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] });
  proxy.addRule({ blobsOnly: true, fault: { kind: 'status', status: 404, body } });
  const m = await get(`${proxy.origin}/v2/faults/sif/manifests/v1`, { headers: OCI_ACCEPT });
  assert.equal(m.status, 429);
  assert.equal(m.headers['retry-after'], '1');
  assert.equal((await get(`${proxy.origin}/v2/faults/sif/manifests/v1`, { headers: OCI_ACCEPT })).status, 200);
  const b = await get(blobUrl);
  assert.equal(b.status, 404);
  assert.equal(b.headers['content-type'], 'application/json');
  assert.equal(b.body.toString('utf8'), body);
  assert.equal((await get(blobUrl)).status, 404, 'times defaults to Infinity');
  assert.deepEqual(
    proxy.requests.map((e) => e.status),
    [429, 200, 404, 404],
  );
  // Method filter: a HEAD does not match a GET rule.
  fresh();
  proxy.addRule({ method: 'GET', blobsOnly: true, fault: { kind: 'status', status: 503 } });
  assert.equal((await get(blobUrl, { method: 'HEAD' })).status, 200);
  assert.equal((await get(blobUrl)).status, 503);
});

test('proxy: flip corrupts exactly one byte; ignoreRange yields 200 with the whole blob', async () => {
  const proxy = fresh();
  proxy.addRule({ blobsOnly: true, times: 1, fault: { kind: 'flip' } });
  const flipped = await get(blobUrl);
  assert.equal(flipped.status, 200);
  assert.equal(flipped.body.length, BLOB_SIZE);
  assert.notEqual(sha(flipped.body), blobArt.layer.digest);
  const expected = layerBytes({ size: BLOB_SIZE, seed: 77 });
  const diffs: number[] = [];
  for (let i = 0; i < expected.length; i++) if (expected[i] !== flipped.body[i]) diffs.push(i);
  assert.deepEqual(diffs, [BLOB_SIZE / 2]);

  proxy.addRule({ blobsOnly: true, times: 1, fault: { kind: 'flip', atByte: 3 } });
  const r = await get(blobUrl, { headers: { Range: 'bytes=10-19' } });
  assert.equal(r.status, 206);
  assert.equal(r.body[3], (expected[13] ?? 0) ^ 0xff);

  proxy.addRule({ blobsOnly: true, times: 1, fault: { kind: 'ignoreRange' } });
  const ignored = await get(blobUrl, { headers: { Range: 'bytes=10-19' } });
  assert.equal(ignored.status, 200);
  assert.equal(ignored.body.length, BLOB_SIZE);
  assert.equal(proxy.requests.at(-1)?.range, 'bytes=10-19');
  assert.equal(proxy.requests.at(-1)?.fault, 'ignoreRange');
});

test('proxy: delay holds the response back', async () => {
  const proxy = fresh();
  proxy.addRule({ path: '/v2/', times: 1, fault: { kind: 'delay', ms: 150 } });
  const t0 = performance.now();
  assert.equal((await get(`${proxy.origin}/v2/`)).status, 200);
  assert.ok(performance.now() - t0 >= 140);
  assert.equal(proxy.requests[0]?.fault, 'delay');
});

test('proxy: survives client aborts, passes WWW-Authenticate through, close() ends open connections', async () => {
  const proxy = fresh();
  // Abort mid-body: the proxy must neither crash nor stop serving.
  await new Promise<void>((resolve) => {
    const req = http.get(blobUrl, { agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => {});
  });
  assert.equal((await get(blobUrl)).status, 200);

  // The registry's malformed 416 (full Content-Length, 33-byte body, close) passes through as is.
  proxy.resetLog();
  const unsatisfiable = await get(blobUrl, { headers: { Range: `bytes=${BLOB_SIZE + 10}-` } });
  assert.equal(unsatisfiable.status, 416);
  assert.ok(unsatisfiable.error);
  assert.deepEqual(
    proxy.requests.map((e) => [e.status, e.bytesSent]),
    [[416, unsatisfiable.body.length]],
  );

  const tokenProxy = await startFaultProxy(reg('token').origin);
  try {
    const direct = await get(`${reg('token').origin}/v2/x/manifests/v1`);
    const via = await get(`${tokenProxy.origin}/v2/x/manifests/v1`);
    assert.equal(via.status, 401);
    assert.equal(via.headers['www-authenticate'], direct.headers['www-authenticate']);
    // A keep-alive connection left open must not keep close() (and the test process) waiting.
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve) =>
      http.get(`${tokenProxy.origin}/v2/`, { agent }, (res) => res.resume().on('end', resolve)),
    );
    await tokenProxy.close();
    agent.destroy();
  } finally {
    await tokenProxy.close();
  }
});

test('stop() ends the registry process and removes its directory', async () => {
  const r = await startRegistry();
  assert.ok(pidAlive(r.pid));
  await r.stop();
  await r.stop(); // idempotent
  assert.equal(pidAlive(r.pid), false);
  assert.equal(existsSync(r.rootDir), false);
  assert.equal((await get(`${r.origin}/v2/`)).status, 0);
});
