// ProxyTransport against a protocol fake of the dfdaemon proxy (test/harness/fake-dfdaemon-proxy.ts),
// which refuses requests without the X-Dragonfly-* headers a daemon needs and fetches from the real
// token registry through the fault proxy orasfly uses too: its log tells who fetched what.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { sha256File, startClusterRig, type ClusterRig } from '../../harness/index.js';
import { startFakeDfdaemonProxy, type FakeDfdaemonProxy } from '../../harness/fake-dfdaemon-proxy.js';
import { createDownloader } from '../../../src/downloader.js';
import { ProxyTransport, type ProxyTransportOptions } from '../../../src/transport/proxy-transport.js';
import { TaskFailedError } from '../../../src/core/errors.js';

const MiB = 2 ** 20;
const SIZE = 9 * MiB;
let rig: ClusterRig;
let fake: FakeDfdaemonProxy;
let n = 0;

before(async () => {
  rig = await startClusterRig({ name: 'proxy-transport', repo: 'p/img', size: SIZE, seed: 92 });
  fake = await startFakeDfdaemonProxy();
});
after(async () => {
  await fake?.close();
  await rig?.close();
});
beforeEach(() => {
  rig.fault.resetLog();
  fake.requests.length = 0;
  fake.script = {};
});

/** `concurrency`: fixed, or `'found'` (unset: the task finds its count). */
async function pull(
  options: Partial<ProxyTransportOptions> = {},
  concurrency: number | 'found' = 2,
  /** `null`: none of the user's. */
  pieceSize: number | null = 4 * MiB,
) {
  const dir = path.join(rig.root, `p${n++}`);
  const transport = new ProxyTransport({ proxy: fake.url, priority: 4, ...options });
  const lines: string[] = [];
  const dl = await createDownloader({
    storage: { dataPath: path.join(dir, 'store') },
    oras: { credentials: rig.reg.credentials },
    download: { pieceSize: pieceSize ?? undefined, concurrency: concurrency === 'found' ? undefined : concurrency },
    transport,
    logSink: { write: (r) => void lines.push(String((r as { msg?: unknown }).msg)) },
  });
  const output = path.join(dir, 'out.sif');
  try {
    const result = await dl.download({
      url: rig.reg.ref('p/img:v1', rig.fault.host),
      output,
      tag: 'nightly',
      application: 'ci',
    });
    return { result, output, lines };
  } finally {
    await dl.close();
    await transport.close();
  }
}

test('pieces come through the proxy with the X-Dragonfly-* headers; orasfly fetches nothing from the origin', async () => {
  const { result, output } = await pull();
  assert.equal(await sha256File(output), rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { proxy: SIZE });
  // Two connections (fixed): the blob's three pieces as two segments, one ranged request each.
  assert.deepEqual(
    fake.requests.map((r) => r.headers.range),
    ['bytes=0-8388607', 'bytes=8388608-9437183'],
  );
  for (const r of fake.requests) {
    assert.equal(r.path, `/v2/p/img/blobs/${rig.pushed.layer.digest}`);
    assert.equal(r.headers['x-dragonfly-registry'], `http://${rig.fault.host}`);
    assert.equal(r.headers['x-dragonfly-use-p2p'], 'true');
    assert.equal(r.headers['x-dragonfly-tag'], 'nightly');
    assert.equal(r.headers['x-dragonfly-application'], 'ci');
    assert.equal(r.headers['x-dragonfly-priority'], '4');
    assert.equal(r.headers['x-dragonfly-piece-length'], '4mib');
    assert.match(String(r.headers['authorization']), /^Bearer /);
    assert.match(String(r.headers['range']), /^bytes=\d+-\d+$/);
  }
  assert.equal(rig.fault.blobRequests().length, 2, "every blob GET at the origin was the proxy's");
});

test("without a piece size of the user's, the proxy is sent none: the daemon's own makes its task id", async () => {
  const { result, output } = await pull({}, 2, null);
  assert.equal(await sha256File(output), rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { proxy: SIZE });
  assert.ok(fake.requests.length > 0);
  for (const r of fake.requests) assert.equal(r.headers['x-dragonfly-piece-length'], undefined);
});

test('a backend 404 relayed by the proxy is a not-found error, not a reason to ask the origin', async () => {
  fake.script = {
    failFirst: [
      { status: 404, errorType: 'backend' },
      { status: 404, errorType: 'backend' },
      { status: 404, errorType: 'backend' },
    ],
  };
  await assert.rejects(
    pull(),
    (e: unknown) => e instanceof TaskFailedError && (e.cause as { status?: number }).status === 404,
  );
  assert.equal(rig.fault.blobRequests().length, 0);
});

test('a proxy error (X-Dragonfly-Error-Type: proxy) hands the task to the origin, with a warning', async () => {
  fake.script = { failFirst: [{ status: 500, errorType: 'proxy' }] };
  const { result, output, lines } = await pull();
  assert.equal(await sha256File(output), rig.pushed.layer.digest);
  assert.equal((result.transferredBy['source'] ?? 0) + (result.transferredBy['proxy'] ?? 0), SIZE);
  assert.ok((result.transferredBy['source'] ?? 0) > 0);
  assert.ok(
    lines.some((m) => /transport proxy failed, back to source/.test(m)),
    lines.join('\n'),
  );
});

test('a proxy that is down: the origin serves', async () => {
  const { result, output } = await pull({ proxy: 'http://127.0.0.1:9' });
  assert.equal(await sha256File(output), rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { source: SIZE });
});

test('registry credentials are not sent in clear text to a proxy off this machine; the origin serves', async () => {
  const { result, lines } = await pull({ proxy: 'http://proxy.invalid:4001' });
  assert.deepEqual(result.transferredBy, { source: SIZE });
  assert.equal(fake.requests.length, 0);
  assert.ok(
    lines.some((m) => /not sending registry credentials to http:\/\/proxy\.invalid:4001 in clear text/.test(m)),
    lines.join('\n'),
  );
});

test('with the count unset, the proxy carries one stream of the whole blob, split when a second connection pays', async () => {
  // A daemon whose peers send each response at 8 MiB/s: a second connection doubles the throughput.
  fake.script = { bytesPerSecond: 8 * MiB };
  const { result, output, lines } = await pull({}, 'found');
  assert.equal(await sha256File(output), result.digest);
  const blobRequests = fake.requests.filter((r) => r.path.includes('/blobs/'));
  assert.equal(
    blobRequests[0]!.headers.range,
    undefined,
    `the first stream: the whole blob (${JSON.stringify(blobRequests.map((r) => r.headers.range))})`,
  );
  const ranged = blobRequests.slice(1).map((r) => r.headers.range);
  assert.ok(ranged.length >= 1, `a split: ${JSON.stringify(ranged)}`);
  for (const r of ranged) assert.match(String(r), /^bytes=\d+-9437183$/, 'each split runs to the end of the blob');
  // Whether the second connection is kept is measured (a 20 % gain within a probe window): a loaded
  // machine may see less and go back to one. The probe and its split are the behaviour asserted.
  assert.ok(result.connections && result.connections.count >= 1, JSON.stringify(result.connections));
  assert.ok(
    lines.some((l) => /^connections: 2 \(one stream gave .*; probing 2\)$/.test(l)),
    lines.join('\n'),
  );
  assert.deepEqual(result.transferredBy, { proxy: SIZE });
});
