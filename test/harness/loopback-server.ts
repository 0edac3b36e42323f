/**
 * Starting a test HTTP server on 127.0.0.1 the way every harness server needs it: an ephemeral
 * port, its open sockets tracked (so `close()` can destroy them and tests end), and client-side
 * errors that are expected in fault tests (a client giving up mid-body) kept from crashing it.
 *
 * @module
 */
import type http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';

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

/** A port that was free a moment ago on 127.0.0.1 (the registry needs a number in its config). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Listens on 127.0.0.1 on an ephemeral port; returns the port. */
export async function listenLocal(server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Closes an http server and destroys its open (keep-alive) connections so tests can end. */
export async function closeHttpServer(server: http.Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
