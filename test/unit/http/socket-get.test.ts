import { test } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { directGet, DirectGetDeclined, type DirectConnect, type ResponseHead } from '../../../src/http/socket-get.js';
import { ChunkPool } from '../../../src/internal/chunk-pool.js';
import { TimeoutError } from '../../../src/core/errors.js';
import { makeTlsCerts } from '../../harness/certs.js';

const CONNECT: DirectConnect = {
  dialTimeout: 5000,
  tlsHandshakeTimeout: 5000,
  headersTimeout: 5000,
  tls: () => ({ rejectUnauthorized: true }),
};

/** A TCP server on loopback that answers each request with `answer(socket, requestHead)`. */
async function rawServer(
  answer: (s: Socket, request: string) => void,
): Promise<{ url: URL; requests: string[]; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let text = '';
    let answered = false;
    s.on('data', (d: Buffer) => {
      if (answered) return;
      text += d.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      answered = true;
      requests.push(text.slice(0, end));
      answer(s, text.slice(0, end));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/v2/r/blobs/sha256:x`),
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Sends `parts` one write at a time, each after the previous one was flushed, then optionally ends. */
function sendParts(s: Socket, parts: (string | Buffer)[], end = true): void {
  const next = (): void => {
    const p = parts.shift();
    if (p === undefined) {
      if (end) s.end();
      return;
    }
    s.write(p, () => setImmediate(next));
  };
  next();
}

function collect(): { sink: (c: Uint8Array) => undefined; bytes: () => Buffer; chunks: number } {
  const got: Buffer[] = [];
  const o = {
    chunks: 0,
    sink: (c: Uint8Array): undefined => {
      got.push(Buffer.from(c)); // a copy: the view's memory is reused after the sink returns
      o.chunks++;
      return undefined;
    },
    bytes: () => Buffer.concat(got),
  };
  return o;
}

const body = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251));

test('a Content-Length body arrives whole, in order, and every buffer goes back to the pool', async (t) => {
  const srv = await rawServer((s) =>
    sendParts(
      s,
      [
        `HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\nContent-Range: bytes 0-${body.length - 1}/999999\r\n\r\n`,
        body.subarray(0, 1000),
        body.subarray(1000),
      ],
      false,
    ),
  );
  t.after(() => srv.close());
  const pool = new ChunkPool({ bufferBytes: 128 * 1024 });
  const c = collect();
  let seen: ResponseHead | undefined;
  const head = await directGet(CONNECT, {
    url: srv.url,
    headers: { authorization: 'Bearer t', range: 'bytes=0-299999' },
    memory: pool,
    sink: c.sink,
    accept: (h) => ((seen = h), true),
  });
  assert.equal(head.status, 206);
  assert.equal(seen?.headers['content-range'], `bytes 0-${body.length - 1}/999999`);
  assert.ok(c.bytes().equals(body));
  assert.equal(pool.lent, 0, 'a buffer was never handed back');
  assert.match(srv.requests[0]!, /^GET \/v2\/r\/blobs\/sha256:x HTTP\/1\.1\r\n/);
  assert.match(srv.requests[0]!, /\r\nauthorization: Bearer t(\r\n|$)/);
  assert.match(srv.requests[0]!, /\r\nrange: bytes=0-299999(\r\n|$)/);
});

test('a head split across reads and a chunked body with size lines cut anywhere decode exactly', async (t) => {
  const chunked: (string | Buffer)[] = ['HTTP/1.1 200 OK\r\nTransfer-', 'Encoding: chunked\r\n', '\r\n'];
  for (let at = 0; at < body.length;) {
    const n = Math.min(70_001, body.length - at);
    const line = `${n.toString(16)};ext=1\r\n`;
    chunked.push(line.slice(0, 2), line.slice(2), body.subarray(at, at + n), '\r', '\n');
    at += n;
  }
  chunked.push('0\r\nX-Trailer: 1\r\n', '\r\n');
  const srv = await rawServer((s) => sendParts(s, chunked, false));
  t.after(() => srv.close());
  const pool = new ChunkPool({ bufferBytes: 100 * 1024 });
  const c = collect();
  await directGet(CONNECT, { url: srv.url, headers: {}, memory: pool, sink: c.sink, accept: () => true });
  assert.ok(c.bytes().equals(body));
  assert.equal(pool.lent, 0);
});

test('a body without length runs to the end of the connection', async (t) => {
  const srv = await rawServer((s) => sendParts(s, ['HTTP/1.0 200 OK\r\n\r\n', body]));
  t.after(() => srv.close());
  const c = collect();
  await directGet(CONNECT, { url: srv.url, headers: {}, memory: new ChunkPool(), sink: c.sink, accept: () => true });
  assert.ok(c.bytes().equals(body));
});

/**
 * GETs from a server that answers `text` and expects a decline: nothing reaches the sink and every
 * buffer goes back to the pool. Returns the decline.
 */
async function declinedAnswer(t: { after(fn: () => unknown): void }, text: string): Promise<DirectGetDeclined> {
  const srv = await rawServer((s) => sendParts(s, [Buffer.from(text, 'latin1')], false));
  t.after(() => srv.close());
  const c = collect();
  const pool = new ChunkPool();
  const e = await directGet(CONNECT, {
    url: srv.url,
    headers: {},
    memory: pool,
    sink: c.sink,
    accept: () => true,
  }).then(
    () => undefined,
    (x: unknown) => x,
  );
  assert.ok(e instanceof DirectGetDeclined, `${JSON.stringify(text)}: ${String(e)}`);
  assert.equal(c.chunks, 0);
  assert.equal(pool.lent, 0);
  return e;
}

test('redirects, challenges and errors are declined with their head, before any byte reaches the sink', async (t) => {
  for (const status of [307, 401, 404, 500]) {
    const e = await declinedAnswer(
      t,
      `HTTP/1.1 ${status} X\r\nLocation: http://elsewhere/\r\nContent-Length: 3\r\n\r\nabc`,
    );
    assert.equal(e.head?.status, status);
  }
});

test('a head undici would refuse (both framings, a NUL or a space in a header, a bad name) is declined before any byte', async (t) => {
  for (const text of [
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Evil: a\u0000b\r\n\r\nabc',
    'HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\nabc',
    'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nBad(Name): x\r\n\r\nabc',
    // A vertical tab or a form feed is not optional whitespace: String.trim() would have taken it.
    'HTTP/1.1 200 OK\r\nContent-Length: \u000b3\r\n\r\nabc',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\u000c\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    // A head over 16 KiB (undici's limit), arriving whole in one read.
    `HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\nabc`,
  ])
    await declinedAnswer(t, text);
});

test('a chunked body whose data is not followed by CRLF, or whose size line ends in a bare LF, fails', async (t) => {
  for (const chunked of ['5\r\nhelloAB3\r\nabc\r\n0\r\n\r\n', '5\nhello\r\n0\r\n\r\n']) {
    const srv = await rawServer((s) => s.end(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`));
    t.after(() => srv.close());
    const c = collect();
    await assert.rejects(
      directGet(CONNECT, { url: srv.url, headers: {}, memory: new ChunkPool(), sink: c.sink, accept: () => true }),
      (e: Error) =>
        !(e instanceof DirectGetDeclined) && /no CRLF after chunk data|chunk line without CR/.test(e.message),
      JSON.stringify(chunked),
    );
    assert.notEqual(c.bytes().toString(), 'helloabc', 'the stray bytes were not skipped silently');
  }
});

test('a refused connection and a header with a line break are declined; the caller decides', async () => {
  const free = net.createServer();
  free.listen(0, '127.0.0.1');
  await once(free, 'listening');
  const { port } = free.address() as AddressInfo;
  free.close();
  await once(free, 'close');
  const url = new URL(`http://127.0.0.1:${port}/x`);
  const req = { url, headers: {}, memory: new ChunkPool(), sink: () => undefined, accept: () => true };
  await assert.rejects(directGet(CONNECT, req), (e) => e instanceof DirectGetDeclined && e.head === undefined);
  await assert.rejects(
    directGet(CONNECT, { ...req, headers: { 'x-a': 'b\r\nhost: evil' } }),
    (e) => e instanceof DirectGetDeclined && /line break/.test(e.message),
  );
});

test('accept() throwing fails the request without reading the body', async (t) => {
  const srv = await rawServer((s) =>
    sendParts(s, [`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`, body], false),
  );
  t.after(() => srv.close());
  const c = collect();
  const wrong = new Error('server ignored Range');
  await assert.rejects(
    directGet(CONNECT, {
      url: srv.url,
      headers: {},
      memory: new ChunkPool(),
      sink: c.sink,
      accept: () => {
        throw wrong;
      },
    }),
    (e) => e === wrong,
  );
  assert.equal(c.chunks, 0);
});

test('a connection that ends inside the body delivers what came and then fails (retryable, not declined)', async (t) => {
  const srv = await rawServer((s) =>
    sendParts(s, [`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`, body.subarray(0, 5000)]),
  );
  t.after(() => srv.close());
  const c = collect();
  const pool = new ChunkPool();
  await assert.rejects(
    directGet(CONNECT, { url: srv.url, headers: {}, memory: pool, sink: c.sink, accept: () => true }),
    (e: NodeJS.ErrnoException) => !(e instanceof DirectGetDeclined) && e.code === 'ERR_STREAM_PREMATURE_CLOSE',
  );
  assert.ok(c.bytes().equals(body.subarray(0, 5000)));
  assert.equal(pool.lent, 0);
});

test('a sink that asks to wait pauses the body; everything still arrives, in order', async (t) => {
  const srv = await rawServer((s) =>
    sendParts(s, [`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`, body], false),
  );
  t.after(() => srv.close());
  const pool = new ChunkPool({ bufferBytes: 64 * 1024 + 1 }); // a buffer per read: many deliveries
  const got: Buffer[] = [];
  let waits = 0;
  let inWait = false;
  const sink = (c: Uint8Array): Promise<void> => {
    assert.equal(inWait, false, 'a chunk arrived while the sink was waiting');
    got.push(Buffer.from(c));
    pool.retain(c); // held like a write in flight, released when it is done
    inWait = true;
    waits++;
    return new Promise<void>((r) =>
      setImmediate(() => {
        inWait = false;
        pool.release(c);
        r();
      }),
    );
  };
  await directGet(CONNECT, { url: srv.url, headers: {}, memory: pool, sink, accept: () => true });
  assert.ok(Buffer.concat(got).equals(body));
  assert.ok(waits >= 2);
  assert.equal(pool.lent, 0);
});

test('TLS records read in one turn reach the sink as one chunk, not one per 16 KiB record', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-socket-get-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { caFile, certFile, keyFile } = await makeTlsCerts(dir);
  const payload = body.subarray(0, 64 * 1024);
  // Written before the first chunk's wait ends, so the records sit in the socket while it is paused.
  let written!: () => void;
  const allWritten = new Promise<void>((r) => (written = r));
  const server = tls.createServer({ cert: await readFile(certFile), key: await readFile(keyFile) }, (s) => {
    s.on('error', () => {});
    s.once('data', () => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${payload.length}\r\n\r\n`);
      s.write(payload.subarray(0, 1000), () => {
        // The rest, 16 KiB records, after the first bytes were sent.
        s.write(payload.subarray(1000), () => written());
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  const connect: DirectConnect = { ...CONNECT, tls: () => ({ ca: readFileSync(caFile), rejectUnauthorized: true }) };
  const got: Buffer[] = [];
  let first = true;
  const sink = (c: Uint8Array): Promise<void> | undefined => {
    got.push(Buffer.from(c));
    if (!first) return undefined;
    first = false;
    return allWritten;
  };
  const pool = new ChunkPool();
  await directGet(connect, {
    url: new URL(`https://127.0.0.1:${port}/v2/r/blobs/sha256:x`),
    headers: {},
    memory: pool,
    sink,
    accept: () => true,
  });
  assert.ok(Buffer.concat(got).equals(payload));
  // 1000 bytes, then four 16 KiB records (the last one short): one chunk each before records merged.
  assert.ok(got.length <= 3, `${got.length} chunks for 5 records`);
  assert.equal(pool.lent, 0);
});

test('an abort mid-body rejects with its reason and closes the connection', async (t) => {
  let serverSocket: Socket | undefined;
  const srv = await rawServer((s) => {
    serverSocket = s;
    sendParts(s, [`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`, body.subarray(0, 1000)], false);
  });
  t.after(() => srv.close());
  const ac = new AbortController();
  const pool = new ChunkPool();
  const reason = new Error('stop');
  const p = directGet(CONNECT, {
    url: srv.url,
    headers: {},
    memory: pool,
    sink: () => {
      ac.abort(reason);
      return undefined;
    },
    accept: () => true,
    signal: ac.signal,
  });
  await assert.rejects(p, (e) => e === reason);
  await once(serverSocket!, 'close');
  assert.equal(pool.lent, 0);
});

test('an abort while the sink waits (a write and commit in flight) rejects only once that wait is over', async (t) => {
  const srv = await rawServer((s) =>
    sendParts(s, [`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`, body.subarray(0, 1000)], false),
  );
  t.after(() => srv.close());
  const ac = new AbortController();
  const reason = new Error('stop');
  let commitDone!: () => void;
  const order: string[] = [];
  const p = directGet(CONNECT, {
    url: srv.url,
    headers: {},
    memory: new ChunkPool(),
    sink: () => {
      // The abort comes from elsewhere (Ctrl-C, the stall watch) while the commit runs.
      setImmediate(() => ac.abort(reason));
      return new Promise<void>((r) => (commitDone = r)).then(() => void order.push('commit'));
    },
    accept: () => true,
    signal: ac.signal,
  });
  const settled = p.then(
    () => order.push('resolved'),
    (e: unknown) => order.push(e === reason ? 'rejected' : 'other'),
  );
  // Several turns of the loop: the abort alone does not settle the request.
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
  assert.deepEqual(order, []);
  commitDone();
  await settled;
  assert.deepEqual(order, ['commit', 'rejected']);
});

test('no head within the deadline is a TimeoutError, not a second try through undici', async (t) => {
  const srv = await rawServer(() => {}); // reads the request, never answers
  t.after(() => srv.close());
  const quick = { ...CONNECT, dialTimeout: 20, headersTimeout: 20 };
  await assert.rejects(
    directGet(quick, { url: srv.url, headers: {}, memory: new ChunkPool(), sink: () => undefined, accept: () => true }),
    (e) => e instanceof TimeoutError,
  );
});

// The server never sends the 5321 bytes: reading a body would hang, so the timeout is the failure.
test(
  'a HEAD whose response has a Content-Length but no body resolves at once with the head',
  { timeout: 10_000 },
  async (t) => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    // The connection stays open after the head: only the method tells the client no body follows.
    const srv = await rawServer((s) =>
      sendParts(
        s,
        [`HTTP/1.1 200 OK\r\nContent-Length: 5321\r\nDocker-Content-Digest: ${digest}\r\nContent-Type: x/y\r\n\r\n`],
        false,
      ),
    );
    t.after(() => srv.close());
    const pool = new ChunkPool({ bufferBytes: 64 * 1024, keep: 0 });
    const c = collect();
    const head = await directGet(CONNECT, {
      url: srv.url,
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      memory: pool,
      sink: c.sink,
      accept: (h) => h.status === 200,
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers['docker-content-digest'], digest);
    assert.equal(head.headers['content-length'], '5321');
    assert.equal(c.chunks, 0);
    assert.equal(pool.lent, 0, 'the read buffer went back to the pool');
    assert.match(srv.requests[0]!, /^HEAD \/v2\/r\/blobs\/sha256:x HTTP\/1\.1\r\n/);
    assert.match(srv.requests[0]!, /\r\naccept: application\/vnd\.oci\.image\.manifest\.v1\+json(\r\n|$)/);
  },
);

test('a HEAD answered 401 or 404 is declined with its head (the caller asks through undici)', async (t) => {
  for (const status of [401, 404, 405]) {
    const srv = await rawServer((s) =>
      sendParts(s, [`HTTP/1.1 ${status} X\r\nWww-Authenticate: Bearer realm="r"\r\nContent-Length: 40\r\n\r\n`], false),
    );
    t.after(() => srv.close());
    await assert.rejects(
      directGet(CONNECT, {
        url: srv.url,
        method: 'HEAD',
        headers: {},
        memory: new ChunkPool(),
        sink: () => undefined,
        accept: () => true,
      }),
      (e) => e instanceof DirectGetDeclined && e.head?.status === status,
    );
  }
});
