// The loopback scheme probe: TLS first, plain HTTP only for a server that does not speak TLS, and
// never plain HTTP because one caller cancelled or the server misbehaved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { OrasResourceClient } from '../../../../src/source/oras/oras-resource-client.js';

/** A loopback TCP server that records how each connection starts and drops it after `holdMs`. */
async function silentServer(holdMs: number): Promise<{ port: number; firstBytes: Buffer[]; close(): Promise<void> }> {
  const firstBytes: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.once('data', (d: Buffer) => firstBytes.push(d.subarray(0, 32)));
    s.on('error', () => {});
    setTimeout(() => s.destroy(), holdMs).unref();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    firstBytes,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

test("one caller's cancellation or a server that resets never sends the others over plain HTTP", async () => {
  const srv = await silentServer(150);
  const client = new OrasResourceClient({ homeDir: os.tmpdir(), retry: { maxRetries: 1, minDelay: 1, maxDelay: 2 } });
  try {
    const ref = `oras://127.0.0.1:${srv.port}/repo/img:v1`;
    const a = client.resolve(ref, { signal: AbortSignal.timeout(30) });
    const b = client.resolve(ref);
    await assert.rejects(a);
    await assert.rejects(b);
    assert.ok(srv.firstBytes.length >= 2, `connections: ${srv.firstBytes.length}`);
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
