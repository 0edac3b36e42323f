// A protocol fake of the dfdaemon HTTP proxy in its registry-mirror form (dragonflyoss/client
// `dragonfly-client/src/proxy`): `GET /v2/<repo>/blobs/<digest>` with `X-Dragonfly-Registry` and
// `X-Dragonfly-Use-P2P`, answered by fetching from the named registry (as a daemon going back to
// source would) and relaying status, Range and body; errors carry `X-Dragonfly-Error-Type`.
// Requests without the headers a daemon needs are refused with 400, so a test that passes proves
// orasfly sent them.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { listenOnLoopback } from './loopback-server.js';
import { pipePaced } from './paced-pipe.js';

/** What the fake proxy does with the next requests. */
export interface FakeProxyScript {
  /** Answer the next requests with this status and `X-Dragonfly-Error-Type`, one per request. */
  failFirst?: Array<{ status: number; errorType: 'backend' | 'proxy' | 'dfdaemon' }>;
  /** Send each response body at most this fast (a daemon whose peers cap each connection). */
  bytesPerSecond?: number;
}

/** A running fake proxy. */
export interface FakeDfdaemonProxy {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  script: FakeProxyScript;
  /** Headers of every request received. */
  readonly requests: Array<{ path: string; headers: IncomingHttpHeaders }>;
  close(): Promise<void>;
}

export async function startFakeDfdaemonProxy(script: FakeProxyScript = {}): Promise<FakeDfdaemonProxy> {
  const requests: FakeDfdaemonProxy['requests'] = [];
  const state = { script };
  const server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', headers: req.headers });
    const registry = req.headers['x-dragonfly-registry'];
    if (
      req.method !== 'GET' ||
      typeof registry !== 'string' ||
      req.headers['x-dragonfly-use-p2p'] !== 'true' ||
      !/^\/v2\/.+\/blobs\/sha256:[0-9a-f]{64}$/.test(req.url ?? '')
    ) {
      res
        .writeHead(400, { 'x-dragonfly-error-type': 'proxy' })
        .end('missing X-Dragonfly-Registry / X-Dragonfly-Use-P2P, or not a blob request');
      return;
    }
    const failure = state.script.failFirst?.shift();
    if (failure) {
      res
        .writeHead(failure.status, { 'x-dragonfly-error-type': failure.errorType })
        .end(`scripted ${failure.errorType} error`);
      return;
    }
    const headers: Record<string, string> = {};
    for (const h of ['authorization', 'range'])
      if (typeof req.headers[h] === 'string') headers[h] = req.headers[h] as string;
    fetch(`${registry}${req.url}`, { headers, redirect: 'follow' })
      .then((up) => {
        const out: Record<string, string> = { 'x-dragonfly-task-id': 'fake' };
        for (const h of ['content-length', 'content-range', 'content-type']) {
          const v = up.headers.get(h);
          if (v) out[h] = v;
        }
        if (up.status >= 400) out['x-dragonfly-error-type'] = 'backend';
        res.writeHead(up.status, out);
        if (!up.body) return res.end();
        const body = Readable.fromWeb(up.body as import('node:stream/web').ReadableStream);
        const rate = state.script.bytesPerSecond;
        if (!rate) return body.pipe(res);
        pipePaced(body, res, rate);
      })
      .catch(() => res.writeHead(502, { 'x-dragonfly-error-type': 'dfdaemon' }).end('back-to-source failed'));
  });
  const { host, sockets } = await listenOnLoopback(server);
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return {
    url: `http://${host}`,
    get script() {
      return state.script;
    },
    set script(s: FakeProxyScript) {
      state.script = s;
    },
    requests,
    close,
  };
}
