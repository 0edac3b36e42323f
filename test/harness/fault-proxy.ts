/**
 * A scriptable HTTP reverse proxy in front of a test registry: tests route a client through it and
 * inject faults per request (connection resets, error statuses, truncated or corrupted bodies,
 * ignored ranges, delays), then read back what was requested and how many blob bytes were served.
 *
 * Bodies are streamed (with backpressure), never buffered, so it can carry 1 GiB blobs.
 *
 * @module
 */
import http from 'node:http';
import { listenOnLoopback } from './loopback-server.js';

/** One injected fault. */
export type Fault =
  /**
   * Reset (TCP RST) the client connection after `afterBytes` body bytes; default 0 = before any
   * header. After N > 0 bytes the RST is sent a moment after the bytes, but an RST may still
   * discard data in flight, so a client can see the reset before the headers; use `truncate` for
   * a deterministic short body.
   */
  | { kind: 'reset'; afterBytes?: number }
  /** Answer this status instead of forwarding (e.g. 429 + `Retry-After: 1`, 503, 404 with a distribution error JSON). */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  /** Send the origin's headers (full Content-Length), then end the connection (FIN) after `afterBytes` body bytes. */
  | { kind: 'truncate'; afterBytes: number }
  /** XOR 0xff one body byte at `atByte` (offset in this response's body; default the middle). */
  | { kind: 'flip'; atByte?: number }
  /** Strip `Range` (and `If-Range`) from the request, so the origin answers 200 with the whole blob. */
  | { kind: 'ignoreRange' }
  /** Wait `ms` before forwarding. */
  | { kind: 'delay'; ms: number }
  /**
   * Send the origin's headers and `afterBytes` body bytes, then nothing more, with the connection
   * left open until the client goes away (or the proxy closes): a download held at a known point,
   * so a test can interrupt it there without pacing or timers.
   */
  | { kind: 'stall'; afterBytes: number };

/** When a fault applies. All given conditions must hold. */
export interface FaultRule {
  /** HTTP method, e.g. `'GET'` (case-insensitive). */
  method?: string;
  /** A string equal to the request's path+query or to its path alone; or a RegExp tested on path+query. */
  path?: string | RegExp;
  /** Only blob requests (`/blobs/sha256:…`; uploads do not count). */
  blobsOnly?: boolean;
  /** How many requests this rule applies to; default Infinity. */
  times?: number;
  fault: Fault;
}

/** One request seen by the proxy, logged when its response ends or fails. */
export interface ProxyRequestLog {
  method: string;
  /** Path and query. */
  path: string;
  /** The client's `Range` header, if any (even when an `ignoreRange` fault stripped it). */
  range?: string;
  /** Status sent to the client; 0 when the connection was reset before any header. */
  status: number;
  /** Body bytes sent to the client. */
  bytesSent: number;
  /** The fault applied, if any. */
  fault?: Fault['kind'];
}

/** A running fault proxy; see {@link startFaultProxy}. */
export interface FaultProxy {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  /** `127.0.0.1:PORT` */
  readonly host: string;
  /** Appended when each response ends or fails. */
  readonly requests: ProxyRequestLog[];
  /** Rules are tried in insertion order; the first match with `times` left wins and is decremented. */
  addRule(rule: FaultRule): void;
  clearRules(): void;
  /** Empties {@link FaultProxy.requests} (in place). */
  resetLog(): void;
  /**
   * Resolves with the first logged request (already logged, or logged from now on) that `match`
   * accepts: tests wait for an event instead of a timer.
   */
  waitFor(match: (r: ProxyRequestLog) => boolean): Promise<ProxyRequestLog>;
  /** Body bytes of blob responses (path has `/blobs/sha256:`) sent to clients, summed over requests. */
  blobBytesSent(): number;
  /** The logged blob requests. */
  blobRequests(): ProxyRequestLog[];
  /** Stops listening and destroys open connections (both sides) so tests can end. */
  close(): Promise<void>;
}

const BLOB_PATH = /\/blobs\/sha256:/;
const RESET_GRACE_MS = 20;
// Hop-by-hop headers describe one connection, not the message; Node sets its own.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
]);

/** Starts a fault proxy on 127.0.0.1 forwarding to `targetOrigin` (an `http://` origin). */
export async function startFaultProxy(targetOrigin: string): Promise<FaultProxy> {
  const target = new URL(targetOrigin);
  if (target.protocol !== 'http:') throw new Error(`fault proxy forwards to http:// origins only, got ${targetOrigin}`);
  const targetPrefix = `http://${target.host}`;
  const agent = new http.Agent({ keepAlive: true });
  const rules: Array<{ rule: FaultRule; left: number }> = [];
  const log: ProxyRequestLog[] = [];
  const waiters: Array<{ match: (r: ProxyRequestLog) => boolean; resolve: (r: ProxyRequestLog) => void }> = [];
  let proxyOrigin = '';

  function match(req: http.IncomingMessage): Fault | undefined {
    const url = req.url ?? '/';
    const pathname = url.split('?')[0] ?? url;
    for (const r of rules) {
      if (r.left <= 0) continue;
      const { method, path, blobsOnly } = r.rule;
      if (method !== undefined && method.toUpperCase() !== req.method) continue;
      if (typeof path === 'string' && path !== url && path !== pathname) continue;
      if (path instanceof RegExp && !path.test(url)) continue;
      if (blobsOnly && !BLOB_PATH.test(pathname)) continue;
      r.left--;
      return r.rule.fault;
    }
    return undefined;
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const fault = match(req);
    const entry: ProxyRequestLog = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      ...(req.headers.range !== undefined ? { range: req.headers.range } : {}),
      status: 0,
      bytesSent: 0,
      ...(fault ? { fault: fault.kind } : {}),
    };
    let logged = false;
    // Logged as the proxy ends or breaks the response, before the client can see that happen (so a
    // test may read the log as soon as its request settles); 'close' catches client aborts.
    const record = (): void => {
      if (!logged) {
        logged = true;
        log.push(entry);
        for (const w of waiters.splice(0))
          if (w.match(entry)) w.resolve(entry);
          else waiters.push(w);
      }
    };
    res.once('close', record);
    const socket = req.socket;

    if (fault?.kind === 'status') {
      const body = Buffer.from(fault.body ?? '');
      const headers: Record<string, string | number> = { 'Content-Length': body.byteLength, ...fault.headers };
      if (body.byteLength > 0 && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
        headers['Content-Type'] = fault.body?.trimStart().startsWith('{') ? 'application/json' : 'text/plain';
      }
      entry.status = fault.status;
      res.writeHead(fault.status, headers);
      entry.bytesSent = req.method === 'HEAD' ? 0 : body.byteLength;
      record();
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (fault?.kind === 'reset' && !(fault.afterBytes !== undefined && fault.afterBytes > 0)) {
      record();
      socket.resetAndDestroy();
      return;
    }

    const forward = (): void => {
      if (res.destroyed) return;
      const headers: http.OutgoingHttpHeaders = { ...req.headers, host: target.host };
      if (fault?.kind === 'ignoreRange') {
        delete headers.range;
        delete headers['if-range'];
      }
      const up = http.request(
        {
          protocol: 'http:',
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers,
          agent,
        },
        (ur) => onUpstream(ur),
      );
      res.once('close', () => {
        // Client went away (or we cut it): stop reading from the origin.
        if (!res.writableFinished) up.destroy();
      });
      up.on('error', () => {
        if (!res.headersSent) {
          entry.status = 502;
          record();
          res.writeHead(502, { 'Content-Type': 'text/plain' }).end('fault proxy: origin error');
        } else {
          record();
          res.destroy();
        }
      });
      req.pipe(up);

      function onUpstream(ur: http.IncomingMessage): void {
        const status = ur.statusCode ?? 502;
        const raw: string[] = [];
        for (let i = 0; i + 1 < ur.rawHeaders.length; i += 2) {
          const name = ur.rawHeaders[i]!;
          let value = ur.rawHeaders[i + 1]!;
          const lower = name.toLowerCase();
          if (HOP_BY_HOP.has(lower)) continue;
          // Keep clients on the proxy: the registry's upload Locations are absolute. Other
          // origins (a redirect blob store, a token realm in WWW-Authenticate) pass unchanged.
          if (lower === 'location' && value.startsWith(targetPrefix))
            value = proxyOrigin + value.slice(targetPrefix.length);
          raw.push(name, value);
        }
        entry.status = status;
        res.writeHead(status, ur.statusMessage, raw);

        const length = Number(ur.headers['content-length']);
        const flipAt =
          fault?.kind === 'flip' ? (fault.atByte ?? (Number.isFinite(length) ? Math.floor(length / 2) : 0)) : -1;
        const cutAt =
          fault?.kind === 'truncate' || fault?.kind === 'stall'
            ? fault.afterBytes
            : fault?.kind === 'reset'
              ? (fault.afterBytes ?? 0)
              : Number.POSITIVE_INFINITY;
        const cut = (): void => {
          record();
          ur.destroy();
          if (fault?.kind === 'stall') return; // silent and open: the response's 'close' ends the origin request
          if (fault?.kind === 'reset') {
            // An RST drops what is still queued, so give the written bytes a moment to arrive.
            setTimeout(() => socket.resetAndDestroy(), RESET_GRACE_MS);
          } else {
            socket.end(); // FIN after what was written: a short body under a full Content-Length
          }
        };
        if (cutAt === 0 && fault?.kind === 'truncate') {
          res.flushHeaders();
          cut();
          return;
        }
        let offset = 0;
        let done = false;
        ur.on('data', (data: Buffer) => {
          if (done) return;
          let chunk = data;
          if (flipAt >= offset && flipAt < offset + chunk.length) {
            chunk = Buffer.from(chunk); // never mutate a buffer someone else may hold
            chunk[flipAt - offset]! ^= 0xff;
          }
          if (offset + chunk.length >= cutAt) {
            done = true;
            const part = chunk.subarray(0, cutAt - offset);
            entry.bytesSent += part.length;
            // Cut only once the part is handed to the kernel, so the client does receive it.
            if (part.length > 0) res.write(part, cut);
            else {
              res.flushHeaders();
              cut();
            }
            return;
          }
          offset += chunk.length;
          entry.bytesSent += chunk.length;
          if (!res.write(chunk)) {
            ur.pause();
            res.once('drain', () => ur.resume());
          }
        });
        ur.on('end', () => {
          if (done) return;
          record();
          res.end();
        });
        // The origin broke off (e.g. the 416 quirk: short body, then close): break off too.
        const breakOff = (): void => {
          if (done) return;
          done = true;
          record();
          res.destroy();
        };
        ur.on('aborted', breakOff);
        ur.on('error', breakOff);
      }
    };

    if (fault?.kind === 'delay') {
      const timer = setTimeout(forward, fault.ms);
      res.once('close', () => clearTimeout(timer));
    } else {
      forward();
    }
  }

  const server = http.createServer(handle);
  const { host, sockets } = await listenOnLoopback(server);
  proxyOrigin = `http://${host}`;
  let closed: Promise<void> | undefined;

  const isBlob = (e: ProxyRequestLog): boolean => BLOB_PATH.test(e.path.split('?')[0] ?? '');
  return {
    origin: proxyOrigin,
    waitFor: (match) => {
      const hit = log.find(match);
      return hit ? Promise.resolve(hit) : new Promise((resolve) => waiters.push({ match, resolve }));
    },
    host,
    requests: log,
    addRule: (rule) => void rules.push({ rule, left: rule.times ?? Number.POSITIVE_INFINITY }),
    clearRules: () => void (rules.length = 0),
    resetLog: () => void (log.length = 0),
    blobBytesSent: () => log.filter(isBlob).reduce((n, e) => n + e.bytesSent, 0),
    blobRequests: () => log.filter(isBlob),
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        agent.destroy();
      })),
  };
}
