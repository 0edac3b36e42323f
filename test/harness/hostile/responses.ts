/**
 * How the hostile registry answers: well-formed replies (JSON, distribution errors, manifests,
 * ranged blobs), raw bytes straight to the socket for malformed HTTP, and the handler builders the
 * scenario groups compose.
 *
 * @module
 */
import type http from 'node:http';
import { CONFIG_DIGEST, EMPTY_CONFIG, OCI_MANIFEST, TAG, ociManifest, sha256, type Artifact } from './content.js';
import type { Ctx, Handler } from './scenario.js';

export function send(c: Ctx, status: number, body: Buffer | string, headers: http.OutgoingHttpHeaders = {}): void {
  const b = Buffer.from(body);
  c.res.writeHead(status, { 'Content-Length': b.length, ...headers });
  c.res.end(c.req.method === 'HEAD' ? undefined : b);
}

export function sendJson(c: Ctx, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  send(c, status, typeof body === 'string' ? body : JSON.stringify(body), {
    'Content-Type': 'application/json',
    ...headers,
  });
}

export function distError(
  c: Ctx,
  status: number,
  code: string,
  message: string,
  headers: http.OutgoingHttpHeaders = {},
): void {
  sendJson(c, status, { errors: [{ code, message }] }, headers);
}

export function sendManifest(
  c: Ctx,
  bytes: Buffer | string,
  contentType = OCI_MANIFEST,
  headers: http.OutgoingHttpHeaders = {},
): void {
  const b = Buffer.from(bytes);
  send(c, 200, b, { 'Content-Type': contentType, 'Docker-Content-Digest': sha256(b), ...headers });
}

/** Writes raw bytes to the connection (no HTTP framing by Node), then ends, resets or keeps it. */
export function raw(c: Ctx, data: Buffer | string, after: 'end' | 'reset' | 'keep' = 'end'): void {
  const s = c.req.socket;
  s.write(data, () => {
    if (after === 'end') s.end();
    else if (after === 'reset') s.resetAndDestroy();
  });
}

export function rawHead(status: string, headers: string[], eol = '\r\n'): string {
  return `HTTP/1.1 ${status}${eol}${headers.map((h) => `${h}${eol}`).join('')}${eol}`;
}

/** `Range: bytes=a-b` (or `a-`) of a `size`-byte blob; `undefined` without a Range header; `null` when unsatisfiable. */
export function rangeOf(req: http.IncomingMessage, size: number): { start: number; end: number } | null | undefined {
  const h = req.headers.range;
  if (h === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(h.trim());
  if (!m) return null;
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || start > end || start >= size) return null;
  return { start, end };
}

/** Serves `data` as a blob, honouring a single `Range` (206 + `Content-Range`, 416 when unsatisfiable). */
export function serveBytes(c: Ctx, data: Buffer, headers: http.OutgoingHttpHeaders = {}): void {
  const r = rangeOf(c.req, data.length);
  const base = {
    'Content-Type': 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    'Docker-Content-Digest': sha256(data),
    ...headers,
  };
  if (r === null) return send(c, 416, '', { 'Content-Range': `bytes */${data.length}` });
  if (r === undefined) return send(c, 200, data, base);
  send(c, 206, data.subarray(r.start, r.end + 1), {
    ...base,
    'Content-Range': `bytes ${r.start}-${r.end}/${data.length}`,
  });
}

/** Streams `total` bytes of `fill` (repeated) with backpressure; stops when the client goes away. */
export function streamFill(c: Ctx, total: number, fill: Buffer, onChunk?: (n: number) => void): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < total && !c.res.destroyed) {
      const n = Math.min(fill.length, total - sent);
      sent += n;
      onChunk?.(n);
      if (!c.res.write(n === fill.length ? fill : fill.subarray(0, n))) {
        c.res.once('drain', pump);
        return;
      }
    }
    if (!c.res.destroyed) c.res.end();
  };
  pump();
}

export function defaultManifest(c: Ctx): void {
  if (c.ref === TAG || c.ref === c.a.manifestDigest) return sendManifest(c, c.a.manifestBytes);
  distError(c, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
}

export function defaultBlob(c: Ctx): void {
  if (c.ref === c.a.digest) return serveBytes(c, c.a.blob);
  if (c.ref === CONFIG_DIGEST) return serveBytes(c, EMPTY_CONFIG);
  distError(c, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
}

/** The tag answers `body` (a manifest document, JSON-encoded unless a string); digests as usual. */
export function manifestDoc(body: unknown, contentType = OCI_MANIFEST): Handler {
  return (c) =>
    c.ref === TAG
      ? sendManifest(c, typeof body === 'string' ? body : JSON.stringify(body), contentType)
      : defaultManifest(c);
}

/** The tag answers a manifest whose only layer is `layer` (built from the scenario's artifact). */
export function withLayer(layer: (a: Artifact) => Record<string, unknown>): Handler {
  return (c) => (c.ref === TAG ? sendManifest(c, JSON.stringify(ociManifest([layer(c.a)]))) : defaultManifest(c));
}

/** A raw HTTP reply to the manifest request. */
export function rawManifest(make: (c: Ctx) => string | Buffer, after: 'end' | 'reset' = 'end'): Handler {
  return (c) => raw(c, make(c), after);
}

const isRangeProbe = (req: http.IncomingMessage): boolean => req.headers.range?.trim() === 'bytes=0-0';

/** Blob requests other than the `bytes=0-0` probe get `piece`; the probe is answered correctly. */
export function pieces(piece: Handler): Handler {
  return (c) => (c.ref === c.a.digest && !isRangeProbe(c.req) ? piece(c) : defaultBlob(c));
}

/** Every request for the scenario's blob (the probe included) gets `h`. */
export function everyBlob(h: Handler): Handler {
  return (c) => (c.ref === c.a.digest ? h(c) : defaultBlob(c));
}
