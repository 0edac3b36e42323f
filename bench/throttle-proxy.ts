/**
 * A reverse proxy that caps every connection's download rate (as CDNs and blob stores do), for the
 * benchmark's "does concurrency earn its keep" table. Bench-only; plain HTTP on 127.0.0.1.
 *
 * @module
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipePaced } from '../test/harness/paced-pipe.js';

/** Starts a proxy to `target` (`http://host:port`) that sends at most `bytesPerSecond` per response. */
export async function startThrottleProxy(
  target: string,
  bytesPerSecond: number,
): Promise<{ host: string; close(): Promise<void> }> {
  const t = new URL(target);
  const server = http.createServer((req, res) => {
    const up = http.request(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        pipePaced(ur, res, bytesPerSecond);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
