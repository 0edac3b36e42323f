/**
 * Hostile scenarios, malformed HTTP: bad line endings, Content-Length and chunking, a non-HTTP
 * reply, oversized or NUL headers, a lying Content-Type, a broken redirect and endless interim replies.
 *
 * @module
 */
import { KiB, OCI_INDEX, OCI_MANIFEST, TAG, layerDescriptor, ociManifest } from './content.js';
import { defaultManifest, rawHead, rawManifest, send, sendManifest } from './responses.js';
import { SHORT_METADATA, code, type Ctx, type Def, type Handler } from './scenario.js';

/** The manifest's true `Content-Length` header line. */
const length = (c: Ctx): string => `Content-Length: ${c.a.manifestBytes.length}`;

/** A raw reply to the manifest request: `status`, Content-Type (OCI manifest), `headers`, then the manifest's bytes. */
function manifestWithHead(headers: (c: Ctx) => string[], status = '200 OK', eol = '\r\n'): Handler {
  return rawManifest((c) =>
    Buffer.concat([
      Buffer.from(rawHead(status, [`Content-Type: ${OCI_MANIFEST}`, ...headers(c)], eol)),
      c.a.manifestBytes,
    ]),
  );
}

/** The malformed-HTTP scenarios (area `headers`), in the order the tests list them. */
export function headerScenarios(): Def[] {
  return [
    {
      name: 'headers-bare-lf',
      area: 'headers',
      description: 'the manifest response uses bare LF line endings',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: manifestWithHead((c) => [length(c)], '200 OK', '\n'),
    },
    {
      name: 'headers-content-length-abc',
      area: 'headers',
      description: 'the manifest response has Content-Length: abc',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: manifestWithHead(() => ['Content-Length: abc']),
    },
    {
      name: 'headers-content-length-negative',
      area: 'headers',
      description: 'the manifest response has Content-Length: -1',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: manifestWithHead(() => ['Content-Length: -1']),
    },
    {
      name: 'headers-content-length-conflict',
      area: 'headers',
      description: 'the manifest response has two conflicting Content-Length headers',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: manifestWithHead((c) => [length(c), `Content-Length: ${c.a.manifestBytes.length + 7}`]),
    },
    {
      name: 'headers-chunked-and-length',
      area: 'headers',
      description: 'the manifest response has both Transfer-Encoding: chunked and Content-Length',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: rawManifest((c) => {
        const m = c.a.manifestBytes;
        return Buffer.concat([
          Buffer.from(
            rawHead('200 OK', [
              `Content-Type: ${OCI_MANIFEST}`,
              `Content-Length: ${m.length}`,
              'Transfer-Encoding: chunked',
            ]),
          ),
          Buffer.from(`${m.length.toString(16)}\r\n`),
          m,
          Buffer.from('\r\n0\r\n\r\n'),
        ]);
      }),
    },
    {
      name: 'headers-chunk-size-garbage',
      area: 'headers',
      description: 'the chunked manifest body has chunk size "zz"',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: rawManifest((c) =>
        Buffer.concat([
          Buffer.from(rawHead('200 OK', [`Content-Type: ${OCI_MANIFEST}`, 'Transfer-Encoding: chunked'])),
          Buffer.from('zz\r\n'),
          c.a.manifestBytes,
          Buffer.from('\r\n0\r\n\r\n'),
        ]),
      ),
    },
    {
      name: 'headers-non-http',
      area: 'headers',
      description: 'the server answers SSH-2.0-OpenSSH_9.6 and closes',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: rawManifest(() => 'SSH-2.0-OpenSSH_9.6\r\n'),
    },
    {
      name: 'headers-status-garbage',
      area: 'headers',
      description: 'the status line is "HTTP/1.1 abc OK"',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: manifestWithHead((c) => [length(c)], 'abc OK'),
    },
    {
      name: 'headers-over-64k',
      area: 'headers',
      description: 'the manifest response has a 70 KiB header',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: manifestWithHead((c) => [`X-Padding: ${'p'.repeat(70 * KiB)}`, length(c)]),
    },
    {
      name: 'headers-nul-byte',
      area: 'headers',
      description: 'a manifest response header value contains a NUL byte',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: manifestWithHead((c) => ['X-Evil: a\0b', length(c)]),
    },
    {
      name: 'headers-content-type-lies',
      area: 'headers',
      description: 'an image manifest without mediaType, served as Content-Type: OCI index',
      expectCode: code('MANIFEST'),
      manifest: (c) => {
        if (c.ref !== TAG) return defaultManifest(c);
        const { mediaType: _drop, ...noType } = ociManifest([layerDescriptor(c.a.digest, c.a.size)]);
        sendManifest(c, JSON.stringify(noType), OCI_INDEX);
      },
    },
    {
      name: 'headers-location-garbage',
      area: 'headers',
      description: 'the manifest request is redirected (307) to "http://[::1" (not a URL)',
      expectCode: code('REGISTRY_RESPONSE', 'NETWORK'),
      manifest: (c) => send(c, 307, '', { Location: 'http://[::1' }),
    },
    {
      name: 'headers-100-continue-flood',
      area: 'headers',
      description: 'the server sends "100 Continue" interim responses every 100 ms and never a final one',
      expectCode: code('TIMEOUT', 'NETWORK'),
      config: SHORT_METADATA,
      maxMs: 12_000,
      manifest: (c) => {
        const s = c.req.socket;
        const timer = c.every(100, () => {
          if (s.destroyed) return clearInterval(timer);
          s.write('HTTP/1.1 100 Continue\r\n\r\n');
        });
        s.once('close', () => clearInterval(timer));
      },
    },
  ];
}
