/**
 * Starting a test HTTP server on 127.0.0.1 the way every harness server needs it: an ephemeral
 * port, its open sockets tracked (so `close()` can destroy them and tests end), and client-side
 * errors that are expected in fault tests (a client giving up mid-body) kept from crashing it.
 *
 * @module
 */
import type http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Listens on 127.0.0.1 (port 0); `sockets` holds the connections open right now. */
export async function listenOnLoopback(
  server: http.Server,
): Promise<{ host: string; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    // A client that aborts mid-body makes writes fail with EPIPE/ECONNRESET: expected, not fatal.
    s.on('error', () => {});
  });
  server.on('clientError', (_err, s: Socket) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { host: `127.0.0.1:${port}`, port, sockets };
}
