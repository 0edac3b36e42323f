/**
 * Hostile scenarios, manifests: malformed, oversized, lying or unsupported manifests and indexes,
 * and layers whose size or digest is invalid.
 *
 * @module
 */
import { currentPlatform } from '../../../src/source/oras/platform.js';
import { KiB, MiB, OCI_INDEX, OCI_MANIFEST, TAG, layerDescriptor, ociManifest, sha256 } from './content.js';
import {
  defaultBlob,
  defaultManifest,
  distError,
  manifestDoc,
  rangeOf,
  rawHead,
  rawManifest,
  send,
  sendManifest,
  streamFill,
  withLayer,
} from './responses.js';
import { SHORT_METADATA, code, type Def } from './scenario.js';

const PIB = 1125899906842624;
/** What the 1 PiB scenario serves at most before it resets connections. */
const PIB_SERVE_CAP = 64 * MiB;

/** The manifest scenarios (area `manifest`), in the order the tests list them. */
export function manifestScenarios(): Def[] {
  // The platform the client picks from an index: the client's own rule, not a copy of it.
  const platform = currentPlatform();
  return [
    {
      name: 'manifest-not-json',
      area: 'manifest',
      description: 'the manifest body is not JSON',
      expectCode: code('MANIFEST'),
      manifest: manifestDoc('this is not JSON {"schemaVersion":2'),
    },
    {
      name: 'manifest-json-array',
      area: 'manifest',
      description: 'the manifest is a JSON array',
      expectCode: code('MANIFEST'),
      manifest: manifestDoc('[{"schemaVersion":2,"layers":[]}]'),
    },
    {
      name: 'manifest-huge-chunked',
      area: 'manifest',
      description: 'a 6 MiB manifest streamed chunked (no Content-Length), over the 4 MiB limit',
      expectCode: code('SIZE_LIMIT'),
      manifest: (c) => {
        if (c.ref !== TAG) return defaultManifest(c);
        c.res.writeHead(200, { 'Content-Type': OCI_MANIFEST });
        c.res.write(`{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","annotations":{"pad":"`);
        streamFill(c, 6 * MiB, Buffer.alloc(64 * KiB, 'a'));
      },
    },
    {
      name: 'manifest-huge-declared',
      area: 'manifest',
      description: 'a manifest whose Content-Length declares 6 MiB (body streamed), over the 4 MiB limit',
      expectCode: code('SIZE_LIMIT'),
      manifest: (c) => {
        if (c.ref !== TAG) return defaultManifest(c);
        c.res.writeHead(200, { 'Content-Type': OCI_MANIFEST, 'Content-Length': 6 * MiB });
        streamFill(c, 6 * MiB, Buffer.alloc(64 * KiB, ' '));
      },
    },
    {
      name: 'manifest-digest-mismatch',
      area: 'manifest',
      description: 'an index names a manifest by digest; fetching that digest returns a different manifest',
      expectCode: code('DIGEST_MISMATCH'),
      manifest: (c) => {
        const other = Buffer.from(
          JSON.stringify(ociManifest([layerDescriptor(c.a.digest, c.a.size)], { annotations: { swapped: 'yes' } })),
        );
        if (c.ref === TAG)
          return sendManifest(
            c,
            JSON.stringify({
              schemaVersion: 2,
              mediaType: OCI_INDEX,
              manifests: [
                { mediaType: OCI_MANIFEST, digest: c.a.manifestDigest, size: c.a.manifestBytes.length, platform },
              ],
            }),
            OCI_INDEX,
          );
        if (c.ref === c.a.manifestDigest)
          return sendManifest(c, other, OCI_MANIFEST, { 'Docker-Content-Digest': c.a.manifestDigest });
        defaultManifest(c);
      },
    },
    {
      name: 'manifest-docker-content-digest-lies',
      area: 'manifest',
      description: 'a valid manifest whose Docker-Content-Digest header names other bytes',
      expectCode: code('DIGEST_MISMATCH'),
      manifest: (c) =>
        c.ref === TAG
          ? sendManifest(c, c.a.manifestBytes, OCI_MANIFEST, { 'Docker-Content-Digest': sha256('something else') })
          : defaultManifest(c),
    },
    {
      name: 'manifest-unknown-media-type',
      area: 'manifest',
      description: 'the manifest declares mediaType application/vnd.evil.manifest+json',
      expectCode: code('MANIFEST', 'UNSUPPORTED'),
      manifest: (c) =>
        c.ref === TAG
          ? sendManifest(
              c,
              JSON.stringify(
                ociManifest([layerDescriptor(c.a.digest, c.a.size)], {
                  mediaType: 'application/vnd.evil.manifest+json',
                }),
              ),
              'application/vnd.evil.manifest+json',
            )
          : defaultManifest(c),
    },
    {
      name: 'manifest-schema-v1',
      area: 'manifest',
      description: 'a Docker schemaVersion 1 (signed) manifest',
      expectCode: code('MANIFEST', 'UNSUPPORTED'),
      manifest: manifestDoc(
        {
          schemaVersion: 1,
          name: 'hostile/manifest-schema-v1',
          tag: TAG,
          architecture: 'amd64',
          fsLayers: [{ blobSum: sha256('x') }],
          history: [],
          signatures: [],
        },
        'application/vnd.docker.distribution.manifest.v1+prettyjws',
      ),
    },
    {
      name: 'manifest-no-layers',
      area: 'manifest',
      description: 'an image manifest with layers: []',
      expectCode: code('MANIFEST'),
      manifest: manifestDoc(ociManifest([])),
    },
    {
      name: 'layer-size-negative',
      area: 'manifest',
      description: 'the layer declares size -1',
      expectCode: code('MANIFEST'),
      manifest: withLayer((a) => layerDescriptor(a.digest, -1)),
    },
    {
      name: 'layer-size-string',
      area: 'manifest',
      description: 'the layer declares size "65536" (a string)',
      expectCode: code('MANIFEST'),
      manifest: withLayer((a) => layerDescriptor(a.digest, String(a.size))),
    },
    {
      name: 'layer-size-beyond-2p53',
      area: 'manifest',
      description: 'the layer declares size 9007199254740993 (2^53+1, not a safe integer)',
      expectCode: code('MANIFEST'),
      manifest: (c) =>
        c.ref === TAG
          ? sendManifest(
              c,
              JSON.stringify(ociManifest([layerDescriptor(c.a.digest, 0)])).replace(
                '"size":0',
                '"size":9007199254740993',
              ),
            )
          : defaultManifest(c),
    },
    {
      name: 'layer-size-1pib',
      area: 'manifest',
      description:
        'the layer declares 1 PiB with a real-looking sha256; the range probe agrees ' +
        '(bytes 0-0/1125899906842624), pieces are zeros (64 MiB at most, then resets)',
      // Refused up front (no room, or over a size limit); a storage error is acceptable too.
      expectCode: code('STORAGE_QUOTA', 'SIZE_LIMIT', 'STORAGE', 'MANIFEST'),
      manifest: withLayer(() => layerDescriptor(sha256('one pebibyte'), PIB)),
      blob: (c) => {
        if (c.ref !== sha256('one pebibyte')) return defaultBlob(c);
        const r = rangeOf(c.req, PIB);
        if (r === null) return send(c, 416, '', { 'Content-Range': `bytes */${PIB}` });
        const start = r?.start ?? 0;
        const end = r?.end ?? PIB - 1;
        const length = end - start + 1;
        const served = c.state['served'] ?? 0;
        if (served >= PIB_SERVE_CAP) return void c.req.socket.resetAndDestroy();
        c.res.writeHead(r ? 206 : 200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': length,
          ...(r ? { 'Content-Range': `bytes ${start}-${end}/${PIB}` } : {}),
        });
        const budget = Math.min(length, PIB_SERVE_CAP - served);
        streamFill(c, budget, Buffer.alloc(64 * KiB), (n) => (c.state['served'] = (c.state['served'] ?? 0) + n));
        if (budget < length) c.res.once('finish', () => c.req.socket.resetAndDestroy());
      },
    },
    {
      name: 'layer-digest-malformed',
      area: 'manifest',
      description: 'the layer digest is sha256:xyz',
      expectCode: code('MANIFEST'),
      manifest: withLayer((a) => layerDescriptor('sha256:xyz', a.size)),
    },
    {
      name: 'layer-digest-md5',
      area: 'manifest',
      description: 'the layer digest is md5:d41d8cd98f00b204e9800998ecf8427e',
      expectCode: code('MANIFEST', 'UNSUPPORTED'),
      manifest: withLayer((a) => layerDescriptor('md5:d41d8cd98f00b204e9800998ecf8427e', a.size)),
    },
    {
      name: 'layer-digest-traversal',
      area: 'manifest',
      description: 'the layer digest is sha256:../../../../etc/passwd',
      expectCode: code('MANIFEST'),
      manifest: withLayer((a) => layerDescriptor('sha256:../../../../etc/passwd', a.size)),
    },
    {
      name: 'index-999-platforms',
      area: 'manifest',
      description: 'an index of 999 platforms, none of them the running one (the error must stay short)',
      expectCode: code('MANIFEST'),
      manifest: (c) => {
        if (c.ref !== TAG) return defaultManifest(c);
        const manifests = Array.from({ length: 999 }, (_, i) => ({
          mediaType: OCI_MANIFEST,
          digest: sha256(`p${i}`),
          size: 100,
          platform: { os: `plan9-${i}`, architecture: `arch-with-a-long-name-${i}`, variant: `v${i}` },
        }));
        sendManifest(c, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }), OCI_INDEX);
      },
    },
    {
      name: 'index-nested',
      area: 'manifest',
      description: 'an index whose entry for the running platform is another index',
      expectCode: code('MANIFEST', 'UNSUPPORTED'),
      manifest: (c) => {
        const inner = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_INDEX,
            manifests: [
              { mediaType: OCI_MANIFEST, digest: c.a.manifestDigest, size: c.a.manifestBytes.length, platform },
            ],
          }),
        );
        if (c.ref === TAG)
          return sendManifest(
            c,
            JSON.stringify({
              schemaVersion: 2,
              mediaType: OCI_INDEX,
              manifests: [{ mediaType: OCI_INDEX, digest: sha256(inner), size: inner.length, platform }],
            }),
            OCI_INDEX,
          );
        if (c.ref === sha256(inner)) return sendManifest(c, inner, OCI_INDEX);
        defaultManifest(c);
      },
    },
    {
      name: 'index-missing-child',
      area: 'manifest',
      description: 'an index whose entry for the running platform is not in the registry (404 MANIFEST_UNKNOWN)',
      expectCode: code('REGISTRY_RESPONSE', 'MANIFEST'),
      manifest: (c) =>
        c.ref === TAG
          ? sendManifest(
              c,
              JSON.stringify({
                schemaVersion: 2,
                mediaType: OCI_INDEX,
                manifests: [{ mediaType: OCI_MANIFEST, digest: sha256('missing'), size: 500, platform }],
              }),
              OCI_INDEX,
            )
          : defaultManifest(c),
    },
    {
      name: 'manifest-404',
      area: 'manifest',
      description: 'the tag is unknown (404 MANIFEST_UNKNOWN)',
      expectCode: code('REGISTRY_RESPONSE'),
      manifest: (c) => distError(c, 404, 'MANIFEST_UNKNOWN', 'manifest unknown'),
    },
    {
      name: 'manifest-500-forever',
      area: 'manifest',
      description: 'every manifest request answers 500',
      expectCode: code('REGISTRY_RESPONSE'),
      manifest: (c) => distError(c, 500, 'UNKNOWN', 'internal server error'),
    },
    {
      name: 'manifest-truncated-close',
      area: 'manifest',
      description: 'the manifest declares Content-Length 4096, sends 100 bytes and closes the connection',
      expectCode: code('NETWORK', 'SIZE_MISMATCH', 'MANIFEST'),
      manifest: rawManifest((c) =>
        Buffer.concat([
          Buffer.from(rawHead('200 OK', [`Content-Type: ${OCI_MANIFEST}`, 'Content-Length: 4096'])),
          c.a.manifestBytes.subarray(0, 100),
        ]),
      ),
    },
    {
      name: 'manifest-deep-nesting',
      area: 'manifest',
      description: 'the manifest is 100000 nested JSON arrays',
      expectCode: code('MANIFEST'),
      manifest: manifestDoc(`${'['.repeat(100_000)}${']'.repeat(100_000)}`),
    },
    {
      name: 'manifest-headers-never',
      area: 'manifest',
      description: 'manifest requests are accepted but never answered',
      expectCode: code('TIMEOUT'),
      config: SHORT_METADATA,
      maxMs: 12_000,
      manifest: () => {},
    },
  ];
}
