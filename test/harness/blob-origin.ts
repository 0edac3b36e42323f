/**
 * The second, S3-like origin of the harness's `redirect` registry variant: blobs are redirected
 * here and served from the registry's storage directory, ranges included, with only one
 * authentication mechanism (a signed query), as object stores answer.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { closeHttpServer, listenLocal } from './loopback-server.js';

/** The second, S3-like origin blobs are redirected to by the `redirect` variant. */
export interface BlobOrigin {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  /** Count of requests served (any outcome). Writable so tests can reset it to 0. */
  requests: number;
  /** Request header names seen (lower-case), newest request last. */
  readonly headersSeen: string[][];
  close(): Promise<void>;
}

/** Parses a single `bytes=` range against `size`; `undefined` = no usable range, `null` = unsatisfiable. */
function parseRange(header: string, size: number): { start: number; end: number } | null | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined; // several ranges or garbage: serve the whole body, as S3 does
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return null;
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || end < start) return null;
  return { start, end };
}

/**
 * A static server over the registry's storage dir, standing in for S3/CloudFront: the redirect
 * middleware sends clients to `baseurl` + the storage-driver path of the blob's `data` file.
 */
export async function startBlobOrigin(storageDir: string): Promise<BlobOrigin> {
  const state = { requests: 0 };
  const headersSeen: string[][] = [];
  const server = http.createServer((req, res) => {
    state.requests++;
    headersSeen.push(Object.keys(req.headers));
    void (async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
        return;
      }
      // S3 rejects a request that carries both a presigned URL and an Authorization header; a
      // client must drop the registry's credentials when it follows the redirect.
      if (req.headers.authorization !== undefined) {
        res.writeHead(400, { 'Content-Type': 'application/xml' });
        res.end('<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>');
        return;
      }
      const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
      const file = path.join(storageDir, pathname);
      if (
        !/^\/docker\/registry\/v2\/blobs\/[a-z0-9]+\/[0-9a-f]{2}\/[0-9a-f]+\/data$/.test(pathname) ||
        !file.startsWith(storageDir + path.sep)
      ) {
        res.writeHead(404).end();
        return;
      }
      let size: number;
      try {
        size = (await stat(file)).size;
      } catch {
        res.writeHead(404, { 'Content-Type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>');
        return;
      }
      const etag = `"${createHash('md5').update(pathname).digest('hex')}"`;
      const base = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', ETag: etag };
      const range = req.headers.range === undefined ? undefined : parseRange(req.headers.range, size);
      if (range === null) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      const { start, end } = range ?? { start: 0, end: size - 1 };
      const length = size === 0 ? 0 : end - start + 1;
      const headers: http.OutgoingHttpHeaders = { ...base, 'Content-Length': length };
      if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
      res.writeHead(range ? 206 : 200, headers);
      if (req.method === 'HEAD' || length === 0) {
        res.end();
        return;
      }
      const stream = createReadStream(file, { start, end });
      stream.on('error', () => res.destroy());
      res.on('close', () => stream.destroy());
      stream.pipe(res);
    })().catch(() => res.destroy());
  });
  const port = await listenLocal(server);
  let closed: Promise<void> | undefined;
  return {
    origin: `http://127.0.0.1:${port}`,
    headersSeen,
    get requests() {
      return state.requests;
    },
    set requests(n: number) {
      state.requests = n;
    },
    close: () => (closed ??= closeHttpServer(server)),
  };
}
