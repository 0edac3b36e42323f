import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { checkRange, DirectBlobReads, headProblem, rangeHeaders } from '../../../../src/source/oras/blob-read.js';
import { ChunkPool } from '../../../../src/internal/chunk-pool.js';
import { InvalidArgumentError, RangeNotSupportedError, SizeMismatchError } from '../../../../src/core/errors.js';
import { listenOnLoopback } from '../../../harness/loopback-server.js';

/** Direct reads with the client's default timeouts and verified TLS. */
function directReads(): DirectBlobReads {
  return new DirectBlobReads({
    dialTimeout: 5000,
    tlsHandshakeTimeout: 5000,
    headersTimeout: 5000,
    tls: () => ({ rejectUnauthorized: true }),
  });
}

const target = { url: 'oras://r/x:1', digest: `sha256:${'a'.repeat(64)}`, size: 100, mediaType: 'm' };

test('checkRange refuses spans outside the blob', () => {
  checkRange(target, undefined);
  checkRange(target, { start: 0, length: 100 });
  for (const r of [
    { start: -1, length: 5 },
    { start: 0, length: 0 },
    { start: 90, length: 11 },
    { start: 0.5, length: 1 },
  ])
    assert.throws(() => checkRange(target, r), InvalidArgumentError);
});

test("rangeHeaders replaces the caller's Range with the read's own", () => {
  assert.deepEqual(rangeHeaders({ RANGE: 'bytes=0-', a: 'b' }, { start: 10, length: 5 }), {
    a: 'b',
    range: 'bytes=10-14',
  });
  assert.deepEqual(rangeHeaders({ Range: 'bytes=0-' }), {});
});

test('headProblem: a ranged read needs 206 with exactly its Content-Range; a whole read its size', () => {
  const r = { start: 10, length: 5 };
  assert.equal(headProblem(target, r, 206, 'bytes 10-14/100', '5'), undefined);
  assert.ok(headProblem(target, r, 200, undefined, '100') instanceof RangeNotSupportedError);
  assert.ok(headProblem(target, r, 206, 'bytes 10-14/101', '5') instanceof RangeNotSupportedError);
  assert.ok(headProblem(target, r, 206, 'bytes 10-14/100', '6') instanceof SizeMismatchError);
  assert.equal(headProblem(target, undefined, 200, undefined, undefined), undefined);
  assert.ok(headProblem(target, undefined, 200, undefined, '99') instanceof SizeMismatchError);
});

test('a URL that answered with a redirect is not tried directly again; a refused connection is', async (t) => {
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits++;
    res.writeHead(307, { location: 'http://127.0.0.1:1/elsewhere' }).end();
  });
  const { port } = await listenOnLoopback(server);
  t.after(() => server.close());
  const reads = directReads();
  const o = { sink: () => undefined, memory: new ChunkPool() };
  const url = `http://127.0.0.1:${port}/v2/x/blobs/${target.digest}`;
  assert.equal(await reads.stream(url, target, undefined, {}, o), false);
  assert.equal(await reads.stream(url, target, undefined, {}, o), false);
  assert.equal(hits, 1);
  assert.equal(reads.requests, 1);
  server.close();
  await once(server, 'close');
  assert.equal(await reads.stream(`http://127.0.0.1:${port}/other`, target, undefined, {}, o), false);
  assert.equal(await reads.stream(`http://127.0.0.1:${port}/other`, target, undefined, {}, o), false);
  assert.equal(reads.requests, 3, 'a refused connection was remembered as a decline');
});

test('head(): the answer on a connection of its own (a 200, or an error undici would repeat); a challenge is undefined (undici asks)', async (t) => {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
    if (req.url?.endsWith('/latest'))
      res.writeHead(200, { 'docker-content-digest': target.digest, 'content-length': '777' }).end();
    else if (req.url?.endsWith('/private')) res.writeHead(401, { 'www-authenticate': 'Bearer realm="x"' }).end();
    else res.writeHead(404).end();
  });
  const { port } = await listenOnLoopback(server);
  t.after(() => server.close());
  const reads = directReads();
  const base = `http://127.0.0.1:${port}/v2/x/manifests`;
  const head = await reads.head(`${base}/latest`, { authorization: 'Bearer t' });
  assert.equal(head?.status, 200);
  assert.equal(head?.headers['docker-content-digest'], target.digest);
  assert.equal(await reads.head(`${base}/private`, {}), undefined);
  assert.equal((await reads.head(`${base}/gone`, {}))?.status, 404, 'not asked again through undici');
  assert.deepEqual(seen, [
    `HEAD /v2/x/manifests/latest Bearer t`,
    'HEAD /v2/x/manifests/private -',
    'HEAD /v2/x/manifests/gone -',
  ]);
  assert.equal(reads.requests, 3);
  // An abort is the caller's answer, not a reason to ask through undici.
  await assert.rejects(reads.head(`${base}/latest`, {}, AbortSignal.abort(new Error('stop'))), /stop/);
});
