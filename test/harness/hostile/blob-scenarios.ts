/**
 * Hostile scenarios, blobs: wrong, short, long or lying bodies, bad ranges, redirects, resets,
 * stalls and endless retry answers.
 *
 * @module
 */
import { KiB, layerDescriptor, prng } from './content.js';
import { distError, everyBlob, pieces, rangeOf, raw, rawHead, send, serveBytes, withLayer } from './responses.js';
import { code, type Def, type Handler } from './scenario.js';

/** Every piece declares its full Content-Length and span, sends half of it, then ends or resets the connection. */
function halfPieces(after: 'end' | 'reset'): Handler {
  return pieces((c) => {
    const r = rangeOf(c.req, c.a.size) ?? { start: 0, end: c.a.size - 1 };
    const len = r.end - r.start + 1;
    const head = rawHead(c.req.headers.range ? '206 Partial Content' : '200 OK', [
      'Content-Type: application/octet-stream',
      `Content-Length: ${len}`,
      ...(c.req.headers.range ? [`Content-Range: bytes ${r.start}-${r.end}/${c.a.size}`] : []),
    ]);
    raw(c, Buffer.concat([Buffer.from(head), c.a.blob.subarray(r.start, r.start + Math.floor(len / 2))]), after);
  });
}

/** The blob scenarios (area `blob`), in the order the tests list them. */
export function blobScenarios(): Def[] {
  return [
    {
      name: 'blob-wrong-bytes',
      area: 'blob',
      description: 'the blob is served with the right length, ranges honoured, but other bytes',
      expectCode: code('DIGEST_MISMATCH'),
      blob: everyBlob((c) => serveBytes(c, prng('not the blob', c.a.size))),
    },
    {
      name: 'blob-short-body',
      area: 'blob',
      description: 'every piece declares its full Content-Length, sends half of it, then closes (FIN)',
      expectCode: code('TASK_FAILED', 'NETWORK', 'SIZE_MISMATCH'),
      blob: halfPieces('end'),
    },
    {
      name: 'blob-long-body-chunked',
      area: 'blob',
      description: 'every piece is sent chunked (no Content-Length) with 4 KiB more than asked for',
      expectCode: code('SIZE_MISMATCH', 'TASK_FAILED', 'DIGEST_MISMATCH'),
      blob: pieces((c) => {
        const r = rangeOf(c.req, c.a.size) ?? { start: 0, end: c.a.size - 1 };
        c.res.writeHead(c.req.headers.range ? 206 : 200, {
          'Content-Type': 'application/octet-stream',
          ...(c.req.headers.range ? { 'Content-Range': `bytes ${r.start}-${r.end}/${c.a.size}` } : {}),
        });
        c.res.end(Buffer.concat([c.a.blob.subarray(r.start, r.end + 1), prng('extra', 4 * KiB)]));
      }),
    },
    {
      name: 'blob-long-body-declared',
      area: 'blob',
      description: 'every piece declares (and sends) 4 KiB more than its Content-Range span',
      expectCode: code('SIZE_MISMATCH', 'TASK_FAILED', 'RANGE_NOT_SUPPORTED'),
      blob: pieces((c) => {
        const r = rangeOf(c.req, c.a.size) ?? { start: 0, end: c.a.size - 1 };
        const body = Buffer.concat([c.a.blob.subarray(r.start, r.end + 1), prng('extra', 4 * KiB)]);
        send(c, c.req.headers.range ? 206 : 200, body, {
          'Content-Type': 'application/octet-stream',
          ...(c.req.headers.range ? { 'Content-Range': `bytes ${r.start}-${r.end}/${c.a.size}` } : {}),
        });
      }),
    },
    {
      name: 'blob-ignores-range-wrong-bytes',
      area: 'blob',
      description: 'every blob request gets 200 with the whole blob (Range ignored), one byte flipped',
      expectCode: code('DIGEST_MISMATCH'),
      blob: everyBlob((c) => {
        const b = Buffer.from(c.a.blob);
        b[b.length >> 1]! ^= 0xff;
        send(c, 200, b, { 'Content-Type': 'application/octet-stream' });
      }),
    },
    {
      name: 'blob-content-range-lies',
      area: 'blob',
      description:
        '16 KiB pieces of a 64 KiB blob: each 206 names the requested span but carries the bytes of offset 0',
      expectCode: code('DIGEST_MISMATCH'),
      config: 'download:\n  pieceSize: 16Ki\n',
      blob: pieces((c) => {
        const r = rangeOf(c.req, c.a.size);
        if (!r) return send(c, 200, prng('not the blob', c.a.size), { 'Content-Type': 'application/octet-stream' });
        send(c, 206, c.a.blob.subarray(0, r.end - r.start + 1), {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `bytes ${r.start}-${r.end}/${c.a.size}`,
        });
      }),
    },
    {
      name: 'blob-size-disagrees',
      area: 'blob',
      description:
        'every blob response says the blob has 1000 bytes more than the manifest (Content-Range total, Content-Length)',
      expectCode: code('SIZE_MISMATCH', 'RANGE_NOT_SUPPORTED', 'TASK_FAILED'),
      blob: everyBlob((c) => {
        const bigger = Buffer.concat([c.a.blob, Buffer.alloc(1000)]);
        const r = rangeOf(c.req, bigger.length);
        if (!r) return send(c, 200, bigger, { 'Content-Type': 'application/octet-stream' });
        send(c, 206, bigger.subarray(r.start, r.end + 1), {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `bytes ${r.start}-${r.end}/${bigger.length}`,
        });
      }),
    },
    {
      name: 'blob-404',
      area: 'blob',
      description: 'the blob is unknown (404 BLOB_UNKNOWN)',
      expectCode: code('REGISTRY_RESPONSE', 'TASK_FAILED'),
      blob: everyBlob((c) => distError(c, 404, 'BLOB_UNKNOWN', 'blob unknown to registry')),
    },
    {
      name: 'blob-trickle',
      area: 'blob',
      description: 'pieces trickle at 1 byte per second (the low-speed rule must retry, then fail)',
      expectCode: code('TIMEOUT', 'TASK_FAILED', 'NETWORK'),
      config: 'download:\n  lowSpeedLimit: 1Ki\n  lowSpeedTime: 1s\n  pieceSize: 32Ki\n',
      blob: pieces((c) => {
        const r = rangeOf(c.req, c.a.size) ?? { start: 0, end: c.a.size - 1 };
        c.res.writeHead(c.req.headers.range ? 206 : 200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': r.end - r.start + 1,
          ...(c.req.headers.range ? { 'Content-Range': `bytes ${r.start}-${r.end}/${c.a.size}` } : {}),
        });
        let at = r.start;
        const timer = c.every(1000, () => {
          if (c.res.destroyed || at > r.end) return clearInterval(timer);
          c.res.write(c.a.blob.subarray(at, at + 1));
          at++;
        });
        c.res.once('close', () => clearInterval(timer));
        c.res.write(c.a.blob.subarray(at, at + 1));
        at++;
      }),
    },
    {
      name: 'blob-headers-never',
      area: 'blob',
      description: 'blob requests (the range probe included) are accepted but never answered',
      expectCode: code('TIMEOUT', 'TASK_FAILED', 'NETWORK'),
      config: 'oras:\n  responseHeaderTimeout: 1s\n',
      blob: everyBlob(() => {}),
    },
    {
      name: 'blob-redirect-file',
      area: 'blob',
      description: 'blob requests are redirected (307) to file:///etc/passwd',
      expectCode: code('REGISTRY_RESPONSE', 'TASK_FAILED', 'NETWORK'),
      expectMessage: /redirect to a non-HTTP URL refused/,
      blob: everyBlob((c) => send(c, 307, '', { Location: 'file:///etc/passwd' })),
    },
    {
      name: 'blob-redirect-ftp',
      area: 'blob',
      description: 'blob requests are redirected (302) to ftp://127.0.0.1/blob',
      expectCode: code('REGISTRY_RESPONSE', 'TASK_FAILED', 'NETWORK'),
      expectMessage: /redirect to a non-HTTP URL refused/,
      blob: everyBlob((c) => send(c, 302, '', { Location: 'ftp://127.0.0.1/blob' })),
    },
    {
      name: 'blob-redirect-loop',
      area: 'blob',
      description: 'blob requests redirect (307) to themselves, forever',
      expectCode: code('REGISTRY_RESPONSE', 'TASK_FAILED'),
      blob: everyBlob((c) =>
        send(c, 307, '', { Location: `${c.url.pathname}?hop=${(c.state['hops'] = (c.state['hops'] ?? 0) + 1)}` }),
      ),
    },
    {
      name: 'blob-reset-mid-body',
      area: 'blob',
      description: 'every piece sends its headers and half its body, then resets the connection (RST)',
      expectCode: code('TASK_FAILED', 'NETWORK'),
      blob: halfPieces('reset'),
    },
    {
      name: 'blob-503-retry-after-huge',
      area: 'blob',
      description: 'blob requests answer 503 with Retry-After: 99999999 (the client must give up, not wait)',
      expectCode: code('REGISTRY_RESPONSE', 'TASK_FAILED'),
      maxMs: 10_000,
      blob: everyBlob((c) =>
        distError(c, 503, 'UNAVAILABLE', 'come back in three years', { 'Retry-After': '99999999' }),
      ),
    },
    {
      name: 'blob-429-forever',
      area: 'blob',
      description: 'blob requests answer 429 with Retry-After: 1, forever',
      expectCode: code('REGISTRY_RESPONSE', 'TASK_FAILED'),
      blob: everyBlob((c) => distError(c, 429, 'TOOMANYREQUESTS', 'rate limit exceeded', { 'Retry-After': '1' })),
    },
    {
      name: 'layer-size-zero-wrong-digest',
      area: 'blob',
      description: 'the layer declares size 0 but a digest of non-empty content (the blob is served in full)',
      expectCode: code('DIGEST_MISMATCH', 'SIZE_MISMATCH', 'TASK_FAILED'),
      manifest: withLayer((a) => layerDescriptor(a.digest, 0)),
    },
  ];
}
