// Getting a manifest while asking the registry as little as possible (#21), against a loopback
// registry that counts GET and HEAD per path: a known digest needs no request, a tag is revalidated
// with one HEAD, a manifest is fetched only when its digest is new (or the registry will not say),
// and a tag cache trusts a tag for its TTL and no longer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Agent } from 'undici';
import { OrasResourceClient } from '../../../../src/source/oras/oras-resource-client.js';
import { fetchManifestOf, type ManifestFetchContext } from '../../../../src/source/oras/manifest-fetch.js';
import type { RegistryHttp } from '../../../../src/source/oras/http.js';
import type { RegistryMemory } from '../../../../src/source/oras/options.js';
import { parseOrasReference } from '../../../../src/source/oras/reference.js';
import { RegistryResponseError } from '../../../../src/core/errors.js';
import { UNDICI_LOAD_CHANNEL } from '../../../../src/http/lazy-undici.js';
import { listenOnLoopback, closeHttpServer } from '../../../harness/loopback-server.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** An OCI manifest with one SIF layer of digest `layer`. */
function manifestOf(layerSeed: string): { bytes: Buffer; digest: string; layer: string } {
  const layer = sha256(Buffer.from(layerSeed));
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.sylabs.sif.config.v1+json', digest: sha256(Buffer.from('{}')), size: 2 },
      layers: [{ mediaType: 'application/vnd.sylabs.sif.layer.v1.sif', digest: layer, size: layerSeed.length }],
    }),
  );
  return { bytes, digest: sha256(bytes), layer };
}

const A = manifestOf('content A');
const B = manifestOf('content B');

/** A registry of manifests that counts requests as `METHOD path`, and connections. */
interface FakeRegistry {
  readonly host: string;
  readonly requests: string[];
  connections: number;
  /** tag → manifest digest. */
  readonly tags: Map<string, string>;
  /** What a HEAD of a manifest answers: the normal answer, no digest header, or another status. */
  head: 'normal' | 'no-digest' | 404 | 405;
  count(method: 'GET' | 'HEAD'): number;
  reset(): void;
  close(): Promise<void>;
}

async function fakeRegistry(): Promise<FakeRegistry> {
  const manifests = new Map([A, B].map((m) => [m.digest, m.bytes]));
  const server = http.createServer((req, res) => {
    reg.requests.push(`${req.method} ${req.url}`);
    const m = /^\/v2\/lab\/cow\/manifests\/([^/]+)$/.exec(req.url ?? '');
    if (req.url === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    const digest = m ? (m[1]!.includes(':') ? m[1]! : reg.tags.get(m[1]!)) : undefined;
    const bytes = digest === undefined ? undefined : manifests.get(digest);
    if (!bytes) {
      const body = JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
      return void res.writeHead(404, { 'content-type': 'application/json' }).end(req.method === 'HEAD' ? '' : body);
    }
    if (req.method === 'HEAD' && typeof reg.head === 'number') return void res.writeHead(reg.head).end();
    const headers: http.OutgoingHttpHeaders = { 'content-type': OCI_MANIFEST, 'content-length': bytes.length };
    if (!(req.method === 'HEAD' && reg.head === 'no-digest')) headers['docker-content-digest'] = digest;
    res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : bytes);
  });
  server.on('connection', () => reg.connections++);
  const { host } = await listenOnLoopback(server);
  const reg: FakeRegistry = {
    host,
    requests: [],
    connections: 0,
    tags: new Map([['latest', A.digest]]),
    head: 'normal',
    count: (method) => reg.requests.filter((r) => r.startsWith(`${method} `)).length,
    reset: () => {
      reg.requests.length = 0;
      reg.connections = 0;
    },
    close: () => closeHttpServer(server),
  };
  return reg;
}

/** A RegistryMemory in maps, with the writes it was asked for. */
function fakeMemory(now: () => number = Date.now): RegistryMemory & {
  manifests: Map<string, { bytes: Uint8Array; mediaType: string }>;
  tags: Map<string, { digest: string; seenAt: number }>;
  puts: string[];
} {
  const manifests = new Map<string, { bytes: Uint8Array; mediaType: string }>();
  const tags = new Map<string, { digest: string; seenAt: number }>();
  const schemes = new Map<string, { scheme: 'http' | 'https'; seenAt: number }>();
  const puts: string[] = [];
  return {
    manifests,
    tags,
    puts,
    manifest: async (d) => manifests.get(d),
    putManifest: async (d, m) => {
      puts.push(`manifest ${d}`);
      manifests.set(d, { bytes: Buffer.from(m.bytes), mediaType: m.mediaType });
    },
    tag: async (r) => tags.get(r),
    putTag: async (r, d) => {
      puts.push(`tag ${r} ${d}`);
      tags.set(r, { digest: d, seenAt: now() });
    },
    scheme: async (h) => schemes.get(h),
    putScheme: async (h, s) => void schemes.set(h, { scheme: s, seenAt: now() }),
  };
}

let reg: FakeRegistry;
let home: string;
before(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'orasfly-manifest-fetch-'));
  reg = await fakeRegistry();
});
after(async () => {
  await reg?.close();
  rmSync(home, { recursive: true, force: true });
});

/** A client of the fake registry with `memory` (plain HTTP unless said otherwise). */
function client(memory: RegistryMemory | undefined, extra: ConstructorParameters<typeof OrasResourceClient>[0] = {}) {
  return new OrasResourceClient({
    homeDir: home,
    dockerConfig: [],
    plainHttp: true,
    retry: { maxRetries: 0 },
    cache: memory,
    ...extra,
  });
}

const tagRef = (): string => `oras://${reg.host}/lab/cow:latest`;
const tagKey = (): string => `${reg.host}/lab/cow:latest`;

test('a digest reference whose manifest is remembered costs no request, not even a scheme probe', async () => {
  reg.reset();
  reg.tags.set('latest', A.digest);
  const memory = fakeMemory();
  memory.manifests.set(A.digest, { bytes: A.bytes, mediaType: OCI_MANIFEST });
  // No plainHttp: a loopback host would be probed (TLS first) before any request.
  const c = client(memory, { plainHttp: undefined });
  try {
    const m = await c.fetchManifest(`oras://${reg.host}/lab/cow@${A.digest}`);
    assert.equal(m.digest, A.digest);
    assert.ok(m.bytes.equals(A.bytes));
    assert.equal(m.manifest.kind, 'manifest');
    const r = await c.resolve(`oras://${reg.host}/lab/cow@${A.digest}`);
    assert.equal(r.digest, A.layer);
    assert.equal(c.requestCount, 0);
    assert.deepEqual(reg.requests, []);
    assert.equal(reg.connections, 0, 'no connection at all');
  } finally {
    await c.close();
  }
});

test('a digest reference not remembered is fetched once, checked, remembered, then needs no request', async () => {
  reg.reset();
  const memory = fakeMemory();
  const c = client(memory);
  try {
    const url = `oras://${reg.host}/lab/cow@${B.digest}`;
    assert.equal((await c.fetchManifest(url)).digest, B.digest);
    assert.deepEqual(reg.requests, [`GET /v2/lab/cow/manifests/${B.digest}`]);
    assert.deepEqual(memory.puts, [`manifest ${B.digest}`], 'a digest reference records no tag');
    assert.equal((await c.fetchManifest(url)).digest, B.digest);
    assert.equal(reg.requests.length, 1);
  } finally {
    await c.close();
  }
});

test('a tag whose manifest is known costs one HEAD and no GET (direct connection and through undici)', async () => {
  for (const through of ['direct', 'undici'] as const) {
    reg.reset();
    reg.tags.set('latest', A.digest);
    const memory = fakeMemory();
    memory.manifests.set(A.digest, { bytes: A.bytes, mediaType: OCI_MANIFEST });
    // An injected dispatcher turns the direct connections off: every request goes through undici.
    const agent = through === 'undici' ? new Agent() : undefined;
    const c = client(memory, agent ? { dispatcher: agent } : {});
    try {
      const m = await c.fetchManifest(tagRef());
      assert.equal(m.digest, A.digest, through);
      assert.ok(m.bytes.equals(A.bytes));
      assert.deepEqual(reg.requests, ['HEAD /v2/lab/cow/manifests/latest'], through);
      assert.equal(memory.tags.get(tagKey())?.digest, A.digest, 'the sighting is recorded');
      assert.ok(!memory.puts.some((p) => p.startsWith('manifest')), 'nothing new to keep');
    } finally {
      await c.close();
      await agent?.close();
    }
  }
});

test('a tag that moved to an unknown digest: HEAD, then GET, then remembered (the next reuse is a HEAD)', async () => {
  reg.reset();
  reg.tags.set('latest', B.digest);
  const memory = fakeMemory();
  memory.manifests.set(A.digest, { bytes: A.bytes, mediaType: OCI_MANIFEST });
  memory.tags.set(tagKey(), { digest: A.digest, seenAt: Date.now() });
  const c = client(memory);
  try {
    const m = await c.fetchManifest(tagRef());
    assert.equal(m.digest, B.digest, 'the new content, not the remembered one');
    assert.deepEqual(reg.requests, ['HEAD /v2/lab/cow/manifests/latest', 'GET /v2/lab/cow/manifests/latest']);
    assert.ok(Buffer.from(memory.manifests.get(B.digest)!.bytes).equals(B.bytes));
    assert.equal(memory.tags.get(tagKey())?.digest, B.digest);
    reg.reset();
    assert.equal((await c.fetchManifest(tagRef())).digest, B.digest);
    assert.deepEqual(reg.requests, ['HEAD /v2/lab/cow/manifests/latest']);
  } finally {
    await c.close();
  }
});

test('a HEAD without Docker-Content-Digest, or answered 404/405, is followed by the GET, which decides', async () => {
  for (const through of ['direct', 'undici'] as const) {
    const memory = fakeMemory();
    memory.manifests.set(A.digest, { bytes: A.bytes, mediaType: OCI_MANIFEST });
    reg.tags.set('latest', A.digest);
    const agent = through === 'undici' ? new Agent() : undefined;
    const c = client(memory, agent ? { dispatcher: agent } : {});
    try {
      for (const head of ['no-digest', 405, 404] as const) {
        reg.reset();
        reg.head = head;
        assert.equal((await c.fetchManifest(tagRef())).digest, A.digest, `${through} ${head}`);
        // One HEAD: a 404/405 on the direct connection is not asked again through undici.
        assert.deepEqual(
          reg.requests,
          ['HEAD /v2/lab/cow/manifests/latest', 'GET /v2/lab/cow/manifests/latest'],
          `${through} ${head}`,
        );
      }
      // A tag the registry does not have: the GET's 404 is the error, not the HEAD's silence.
      reg.reset();
      reg.head = 'normal';
      await assert.rejects(
        c.fetchManifest(`oras://${reg.host}/lab/cow:gone`),
        (e: unknown) => e instanceof RegistryResponseError && e.status === 404 && /manifest unknown/i.test(e.message),
      );
      assert.deepEqual(reg.requests, ['HEAD /v2/lab/cow/manifests/gone', 'GET /v2/lab/cow/manifests/gone'], through);
    } finally {
      reg.head = 'normal';
      await c.close();
      await agent?.close();
    }
  }
});

test('after a HEAD answered 200 on a connection of its own, the GET goes that way too (no undici loaded); after any other answer, through undici, asked once', async () => {
  const memory = fakeMemory();
  reg.tags.set('latest', B.digest);
  let loads = 0;
  const onLoad = (): void => void loads++;
  subscribe(UNDICI_LOAD_CHANNEL, onLoad);
  const c = client(memory);
  try {
    for (const head of ['normal', 'no-digest'] as const) {
      reg.reset();
      reg.head = head;
      memory.manifests.clear();
      assert.equal((await c.fetchManifest(tagRef())).digest, B.digest, head);
      assert.deepEqual(reg.requests, ['HEAD /v2/lab/cow/manifests/latest', 'GET /v2/lab/cow/manifests/latest'], head);
      assert.equal(loads, 0, `${head}: undici was loaded`);
    }
    // A 404 HEAD: the GET goes through undici, which explains the 404; each asked once.
    reg.reset();
    reg.head = 'normal';
    await assert.rejects(
      c.fetchManifest(`oras://${reg.host}/lab/cow:gone`),
      (e: unknown) => e instanceof RegistryResponseError && e.status === 404,
    );
    assert.deepEqual(reg.requests, ['HEAD /v2/lab/cow/manifests/gone', 'GET /v2/lab/cow/manifests/gone']);
    assert.ok(loads > 0, 'the GET went through undici');
  } finally {
    unsubscribe(UNDICI_LOAD_CHANNEL, onLoad);
    reg.head = 'normal';
    reg.tags.set('latest', A.digest);
    await c.close();
  }
});

test('a remembered manifest that is not a usable manifest is fetched again', async () => {
  reg.reset();
  reg.tags.set('latest', A.digest);
  const memory = fakeMemory();
  memory.manifests.set(A.digest, { bytes: Buffer.from('{"schemaVersion":1}'), mediaType: OCI_MANIFEST });
  const c = client(memory);
  try {
    const m = await c.fetchManifest(tagRef());
    assert.ok(m.bytes.equals(A.bytes));
    assert.deepEqual(reg.requests, ['HEAD /v2/lab/cow/manifests/latest', 'GET /v2/lab/cow/manifests/latest']);
  } finally {
    await c.close();
  }
});

test('without a memory every fetch is a GET, as before', async () => {
  reg.reset();
  reg.tags.set('latest', A.digest);
  const c = client(undefined, { tagCacheTtl: '60s' });
  try {
    await c.fetchManifest(tagRef());
    await c.fetchManifest(`oras://${reg.host}/lab/cow@${A.digest}`);
    assert.deepEqual(reg.requests, ['GET /v2/lab/cow/manifests/latest', `GET /v2/lab/cow/manifests/${A.digest}`]);
  } finally {
    await c.close();
  }
});

test('tagCacheTtl through the client: a tag seen within the TTL costs no request', async () => {
  reg.reset();
  reg.tags.set('latest', A.digest);
  const memory = fakeMemory();
  const c = client(memory, { tagCacheTtl: '60s' });
  try {
    await c.fetchManifest(tagRef()); // first sighting: HEAD (not known), GET
    assert.deepEqual(reg.requests, ['HEAD /v2/lab/cow/manifests/latest', 'GET /v2/lab/cow/manifests/latest']);
    reg.reset();
    reg.tags.set('latest', B.digest); // moved: not seen until the TTL is over
    for (let i = 0; i < 3; i++) assert.equal((await c.fetchManifest(tagRef())).digest, A.digest);
    assert.deepEqual(reg.requests, []);
  } finally {
    reg.tags.set('latest', A.digest);
    await c.close();
  }
});

/**
 * A fetch context with an injected clock, whose HEAD answers `headDigest` and whose undici path
 * must not be used; `log` lists what was sent.
 */
function ttlContext(
  memory: RegistryMemory,
  now: () => number,
  headDigest: string,
): { ctx: ManifestFetchContext; log: string[] } {
  const log: string[] = [];
  const http = {
    send: async (req: { method: string; url: string }) => {
      log.push(`undici ${req.method} ${req.url}`);
      throw new Error('not expected through undici');
    },
  } as unknown as RegistryHttp;
  const ctx: ManifestFetchContext = {
    http: async () => http,
    maxManifestBytes: 1 << 20,
    tagCacheTtl: 60_000,
    memory,
    now,
    prepare: async () => void log.push('prepare'),
    repoBase: (ref) => `http://${ref.apiHost}/v2/${ref.repository}`,
    blobUrl: (ref, d) => `http://${ref.apiHost}/v2/${ref.repository}/blobs/${d}`,
    directHead: async (_ref, url) => {
      log.push(`HEAD ${url}`);
      return { status: 200, headers: { 'docker-content-digest': headDigest } };
    },
  };
  return { ctx, log };
}

test('tagCacheTtl: trusted while younger than the TTL, revalidated with a HEAD once it is not (injected clock)', async () => {
  const ref = parseOrasReference('oras://127.0.0.1:5000/lab/cow:latest');
  let now = 1_000_000;
  const memory = fakeMemory(() => now);
  memory.manifests.set(A.digest, { bytes: A.bytes, mediaType: OCI_MANIFEST });
  memory.tags.set('127.0.0.1:5000/lab/cow:latest', { digest: A.digest, seenAt: now });
  const { ctx, log } = ttlContext(memory, () => now, A.digest);

  now += 59_999; // fresh
  assert.equal((await fetchManifestOf(ctx, ref, 'latest', {})).digest, A.digest);
  assert.deepEqual(log, [], 'no request, not even the scheme decision');

  now += 1; // exactly the TTL: expired
  assert.equal((await fetchManifestOf(ctx, ref, 'latest', {})).digest, A.digest);
  assert.deepEqual(log, ['prepare', 'HEAD http://127.0.0.1:5000/v2/lab/cow/manifests/latest']);
  // The HEAD renewed the sighting: trusted again for a TTL from now.
  assert.equal(memory.tags.get('127.0.0.1:5000/lab/cow:latest')?.seenAt, now);
  log.length = 0;
  now += 30_000;
  await fetchManifestOf(ctx, ref, 'latest', {});
  assert.deepEqual(log, []);
});

test('tagCacheTtl: a fresh tag whose manifest is not remembered is revalidated; a sighting from the future is not trusted', async () => {
  const ref = parseOrasReference('oras://127.0.0.1:5000/lab/cow:latest');
  const now = 5_000_000;
  const memory = fakeMemory(() => now);
  memory.manifests.set(A.digest, { bytes: A.bytes, mediaType: OCI_MANIFEST });
  // Fresh, but the manifest it names is gone from the store.
  memory.tags.set('127.0.0.1:5000/lab/cow:latest', { digest: B.digest, seenAt: now - 1 });
  const { ctx, log } = ttlContext(memory, () => now, A.digest);
  assert.equal((await fetchManifestOf(ctx, ref, 'latest', {})).digest, A.digest);
  assert.deepEqual(log, ['prepare', 'HEAD http://127.0.0.1:5000/v2/lab/cow/manifests/latest']);
  // A clock that went back (or another machine's record): the tag is asked, not trusted for ever.
  log.length = 0;
  memory.tags.set('127.0.0.1:5000/lab/cow:latest', { digest: A.digest, seenAt: now + 3_600_000 });
  await fetchManifestOf(ctx, ref, 'latest', {});
  assert.deepEqual(log, ['prepare', 'HEAD http://127.0.0.1:5000/v2/lab/cow/manifests/latest']);
});

test('tagCacheTtl 0 asks every time (a HEAD), whatever the sighting', async () => {
  const ref = parseOrasReference('oras://127.0.0.1:5000/lab/cow:latest');
  const memory = fakeMemory(() => 1);
  memory.manifests.set(A.digest, { bytes: A.bytes, mediaType: OCI_MANIFEST });
  memory.tags.set('127.0.0.1:5000/lab/cow:latest', { digest: A.digest, seenAt: 1 });
  const { ctx, log } = ttlContext(memory, () => 1, A.digest);
  await fetchManifestOf({ ...ctx, tagCacheTtl: 0 }, ref, 'latest', {});
  assert.deepEqual(log, ['prepare', 'HEAD http://127.0.0.1:5000/v2/lab/cow/manifests/latest']);
});

test("a redirect target's Docker-Content-Digest is not the registry's word: the GET decides", async (t) => {
  // The CDN a HEAD is redirected to names A, which this client remembers; the registry's tag is B.
  const cdn = http.createServer((_req, res) => void res.writeHead(200, { 'docker-content-digest': A.digest }).end());
  const { host: cdnHost } = await listenOnLoopback(cdn);
  t.after(() => closeHttpServer(cdn));
  const registry = http.createServer((req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    if (req.method === 'HEAD') return void res.writeHead(307, { location: `http://${cdnHost}/m` }).end();
    res
      .writeHead(200, {
        'content-type': OCI_MANIFEST,
        'content-length': B.bytes.length,
        'docker-content-digest': B.digest,
      })
      .end(B.bytes);
  });
  const { host } = await listenOnLoopback(registry);
  t.after(() => closeHttpServer(registry));
  const memory = fakeMemory();
  await memory.putManifest(A.digest, { bytes: A.bytes, mediaType: OCI_MANIFEST });
  const c = client(memory);
  try {
    const m = await c.fetchManifest(`oras://${host}/lab/cow:latest`);
    assert.equal(m.digest, B.digest);
    assert.equal(memory.tags.get(`${host}/lab/cow:latest`)?.digest, B.digest);
  } finally {
    await c.close();
  }
});
