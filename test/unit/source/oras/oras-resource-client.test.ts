// The loopback scheme probe: TLS first, plain HTTP only for a server that does not speak TLS, and
// never plain HTTP because one caller cancelled or the server misbehaved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { OrasResourceClient } from '../../../../src/source/oras/oras-resource-client.js';

/**
 * A loopback TCP server that records how each connection starts and holds it open until
 * `release()`, after which it drops every connection at once: the test decides when, no timer does.
 */
async function silentServer(): Promise<{
  port: number;
  connections: () => number;
  firstBytes: Buffer[];
  firstData: Promise<void>;
  release(): void;
  close(): Promise<void>;
}> {
  let connections = 0;
  const firstBytes: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  let released = false;
  let seen!: () => void;
  const firstData = new Promise<void>((r) => (seen = r));
  const server = net.createServer((s) => {
    connections++;
    s.on('error', () => {});
    if (released) return void s.destroy();
    sockets.add(s);
    s.once('data', (d: Buffer) => {
      firstBytes.push(d.subarray(0, 32));
      seen();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const release = () => {
    released = true;
    for (const s of sockets) s.destroy();
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    firstBytes,
    firstData,
    release,
    close: () =>
      new Promise<void>((r) => {
        release();
        server.close(() => r());
      }),
  };
}

test("one caller's cancellation or a server that resets never sends the others over plain HTTP", async () => {
  const srv = await silentServer();
  const client = new OrasResourceClient({ homeDir: os.tmpdir(), retry: { maxRetries: 1, minDelay: 1, maxDelay: 2 } });
  try {
    const ref = `oras://127.0.0.1:${srv.port}/repo/img:v1`;
    const ac = new AbortController();
    const a = client.resolve(ref, { signal: ac.signal });
    const b = client.resolve(ref);
    // Cancel the first caller while the probe's handshake is in flight, then let the server reset.
    await srv.firstData;
    ac.abort(new Error('caller a gave up'));
    await assert.rejects(a, /caller a gave up/);
    srv.release();
    await assert.rejects(b);
    assert.ok(srv.connections() >= 2, `the second caller made its own attempt (connections: ${srv.connections()})`);
    // TLS handshakes, and at most the credential-less plain `GET /v2/` that confirms a server
    // without TLS; never a registry request (manifest, blob) in plain text.
    for (const first of srv.firstBytes) {
      const text = first.toString('latin1');
      assert.ok(
        first[0] === 0x16 || text.startsWith('GET /v2/ HTTP/1.1'),
        `unexpected plain-text request ${JSON.stringify(text)}`,
      );
    }
    assert.ok(srv.firstBytes.some((b) => b[0] === 0x16));
    assert.match(
      client.blobUrl({ url: ref, digest: `sha256:${'a'.repeat(64)}` }),
      /^https:\/\//,
      'undecided means HTTPS',
    );
  } finally {
    await client.close();
    await srv.close();
  }
});
