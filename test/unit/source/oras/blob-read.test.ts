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

test('getSmall(): a 200 read whole on a connection of its own; anything else, or a body over the limit, is undefined (undici asks)', async (t) => {
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [] }));
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
    if (req.url?.endsWith('/latest'))
      res.writeHead(200, { 'docker-content-digest': target.digest, 'content-type': 'application/json' }).end(body);
    else if (req.url?.endsWith('/chunked')) {
      // No Content-Length: the limit is found while reading.
      res.writeHead(200);
      res.write(body);
      res.end(body);
    } else if (req.url?.endsWith('/private')) res.writeHead(401, { 'www-authenticate': 'Bearer realm="x"' }).end();
    else if (req.url?.endsWith('/cut')) {
      res.writeHead(200, { 'content-length': String(body.length * 2) });
      res.write(body, () => res.destroy());
    } else res.writeHead(404).end();
  });
  const { port } = await listenOnLoopback(server);
  t.after(() => server.close());
  const reads = directReads();
  const base = `http://127.0.0.1:${port}/v2/x/manifests`;
  const got = await reads.getSmall(`${base}/latest`, { authorization: 'Bearer t' }, 1000);
  assert.ok(got?.bytes.equals(body));
  assert.equal(got?.head.headers['docker-content-digest'], target.digest);
  assert.equal(got?.head.headers['content-type'], 'application/json');
  assert.equal(await reads.getSmall(`${base}/latest`, {}, body.length - 1), undefined, 'Content-Length over the limit');
  assert.equal(await reads.getSmall(`${base}/chunked`, {}, body.length + 1), undefined, 'a body that grows over it');
  assert.ok((await reads.getSmall(`${base}/chunked`, {}, 2 * body.length))?.bytes.equals(Buffer.concat([body, body])));
  assert.equal(await reads.getSmall(`${base}/private`, {}, 1000), undefined, 'a challenge');
  assert.equal(await reads.getSmall(`${base}/gone`, {}, 1000), undefined, 'a 404: undici explains it');
  assert.equal(await reads.getSmall(`${base}/cut`, {}, 1000), undefined, 'a connection that breaks');
  assert.equal(seen.length, 7);
  assert.equal(seen[0], 'GET /v2/x/manifests/latest Bearer t');
  assert.equal(reads.requests, 7);
  await assert.rejects(reads.getSmall(`${base}/latest`, {}, 1000, AbortSignal.abort(new Error('stop'))), /stop/);
});

test('head() that times out is undefined (undici asks again, under the retry policy); a whole read answered 206 is declined', async (t) => {
  const silent = http.createServer(() => {
    /* never answers */
  });
  const { port: silentPort } = await listenOnLoopback(silent);
  t.after(() => {
    silent.closeAllConnections();
    silent.close();
  });
  const hurried = new DirectBlobReads({
    dialTimeout: 5000,
    tlsHandshakeTimeout: 5000,
    headersTimeout: 50,
    tls: () => ({ rejectUnauthorized: true }),
  });
  assert.equal(await hurried.head(`http://127.0.0.1:${silentPort}/v2/x/manifests/v1`, {}), undefined);
  const partial = http.createServer((_req, res) => {
    res.writeHead(206, { 'content-range': 'bytes 0-9/100', 'content-length': '10' }).end(Buffer.alloc(10));
  });
  const { port } = await listenOnLoopback(partial);
  t.after(() => partial.close());
  const got: number[] = [];
  const o = { sink: (c: Uint8Array) => void got.push(c.length), memory: new ChunkPool() };
  assert.equal(await directReads().stream(`http://127.0.0.1:${port}/b`, target, undefined, {}, o), false);
  assert.deepEqual(got, [], 'no byte of a 206 taken as the whole blob');
});
