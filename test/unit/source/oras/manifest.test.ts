import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chooseLayer,
  parseManifest,
  selectPlatform,
  OCI_MANIFEST,
  OCI_INDEX,
  DOCKER_MANIFEST,
  SIF_LAYER_MEDIA_TYPE,
  LEGACY_SIF_LAYER_MEDIA_TYPE,
  type ImageManifest,
  type ImageIndex,
} from '../../../../src/source/oras/manifest.js';
import { ManifestError } from '../../../../src/core/errors.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const desc = (mediaType: string, c: string, size = 1) => ({ mediaType, digest: d(c), size });
const buf = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));

test('parses OCI manifests (mediaType from body or Content-Type), Docker manifests and indexes', () => {
  const m = parseManifest(
    buf({ schemaVersion: 2, config: desc('c', '0'), layers: [desc(SIF_LAYER_MEDIA_TYPE, '1', 10)] }),
    OCI_MANIFEST,
  ) as ImageManifest;
  assert.equal(m.kind, 'manifest');
  assert.equal(m.layers[0]!.size, 10);
  const dm = parseManifest(
    buf({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: desc('c', '0'), layers: [desc('l', '2')] }),
    'application/json',
  );
  assert.equal(dm.mediaType, DOCKER_MANIFEST);
  const ix = parseManifest(
    buf({
      schemaVersion: 2,
      manifests: [{ ...desc(OCI_MANIFEST, '3'), platform: { os: 'linux', architecture: 'arm64' } }],
    }),
    OCI_INDEX,
  ) as ImageIndex;
  assert.equal(ix.kind, 'index');
});

test('invalid manifests are ManifestErrors', () => {
  const bad: [Buffer, string][] = [
    [Buffer.from('<html>'), 'not valid JSON'],
    [buf([1]), 'not a JSON object'],
    [buf({ schemaVersion: 1, layers: [] }), 'schemaVersion'],
    [buf({ schemaVersion: 2, layers: [{ mediaType: 'x', digest: 'sha256:nothex', size: 1 }] }), 'digest'],
    [buf({ schemaVersion: 2, layers: [{ mediaType: 'x', digest: d('a'), size: -1 }] }), 'size'],
    [buf({ schemaVersion: 2, layers: [{ mediaType: 'x', digest: d('a'), size: 2 ** 60 }] }), 'size'],
    [buf({ schemaVersion: 2, layers: [{ mediaType: 5, digest: d('a'), size: 1 }] }), 'mediaType'],
    [buf({ schemaVersion: 2, layers: 'x' }), 'layers'],
    [buf({ schemaVersion: 2, mediaType: 'application/x-weird' }), 'unsupported'],
    [buf({ schemaVersion: 2, mediaType: OCI_INDEX }), 'manifests'],
  ];
  for (const [b, why] of bad)
    assert.throws(
      () => parseManifest(b, OCI_MANIFEST),
      (e: unknown) => e instanceof ManifestError && e.message.includes(why),
      why,
    );
});

test('layer choice: single SIF layer, legacy SIF type, option by media type or index, else the last; empty fails', () => {
  const mk = (...layers: ReturnType<typeof desc>[]): ImageManifest => ({
    kind: 'manifest',
    mediaType: OCI_MANIFEST,
    config: undefined,
    layers,
  });
  assert.equal(chooseLayer(mk(desc('a', '1'), desc(SIF_LAYER_MEDIA_TYPE, '2'), desc('b', '3'))).digest, d('2'));
  assert.equal(chooseLayer(mk(desc(LEGACY_SIF_LAYER_MEDIA_TYPE, '4'), desc('b', '3'))).digest, d('4'));
  // Several layers and no SIF: refused, listing the layers and naming the options (Dragonfly took the last).
  assert.throws(
    () => chooseLayer(mk(desc('a', '1'), desc('b', '2'), desc('c', '3'))),
    (e: unknown) =>
      e instanceof ManifestError &&
      /3 layers and no SIF layer.*--layer-index N \(-1 = the last.*Layers: #0 a .* #2 c/.test((e as Error).message),
  );
  assert.equal(chooseLayer(mk(desc('a', '1'), desc('b', '2'), desc('c', '3')), { layerIndex: -1 }).digest, d('3'));
  assert.equal(chooseLayer(mk(desc('a', '1'))).digest, d('1'), 'one layer is the layer');
  // An explicit media type is never overridden by the SIF preference.
  assert.equal(
    chooseLayer(mk(desc(SIF_LAYER_MEDIA_TYPE, '1'), desc('b', '2')), { layerMediaType: 'b' }).digest,
    d('2'),
  );
  assert.equal(chooseLayer(mk(desc('a', '1'), desc('b', '2')), { layerMediaType: 'a' }).digest, d('1'));
  assert.equal(chooseLayer(mk(desc('a', '1'), desc('b', '2')), { layerIndex: 0 }).digest, d('1'));
  assert.equal(chooseLayer(mk(desc('a', '1'), desc('b', '2')), { layerIndex: -2 }).digest, d('1'));
  assert.throws(() => chooseLayer(mk(desc('a', '1')), { layerMediaType: 'zz' }), ManifestError);
  assert.throws(() => chooseLayer(mk(desc('a', '1')), { layerIndex: 5 }), ManifestError);
  assert.throws(
    () => chooseLayer(mk()),
    (e: unknown) => e instanceof ManifestError && e.message === 'manifest is empty',
  );
});

test('platform selection matches os/architecture, variant when asked', () => {
  const ix: ImageIndex = {
    kind: 'index',
    mediaType: OCI_INDEX,
    manifests: [
      { ...desc(OCI_MANIFEST, '1'), platform: { os: 'linux', architecture: 'amd64' } },
      { ...desc(OCI_MANIFEST, '2'), platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
      { ...desc(OCI_MANIFEST, '3'), platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    ],
  };
  assert.equal(selectPlatform(ix, { os: 'linux', architecture: 'amd64' }).digest, d('1'));
  assert.equal(selectPlatform(ix, { os: 'linux', architecture: 'arm', variant: 'v7' }).digest, d('3'));
  assert.throws(
    () => selectPlatform(ix, { os: 'windows', architecture: 'amd64' }),
    /have: linux\/amd64, linux\/arm\/v6, linux\/arm\/v7/,
  );
});

test('artifactType: the manifest field when present, else the config media type; a non-string is refused', () => {
  const layer = { mediaType: 'x', digest: `sha256:${'a'.repeat(64)}`, size: 1 };
  const config = {
    mediaType: 'application/vnd.sylabs.sif.config.v1+json',
    digest: `sha256:${'b'.repeat(64)}`,
    size: 2,
  };
  const parse = (extra: object) =>
    parseManifest(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config,
          layers: [layer],
          ...extra,
        }),
      ),
      undefined,
    );
  assert.equal(
    (parse({ artifactType: 'application/vnd.example+type' }) as { artifactType?: string }).artifactType,
    'application/vnd.example+type',
  );
  assert.equal((parse({}) as { artifactType?: string }).artifactType, config.mediaType);
  assert.throws(() => parse({ artifactType: 7 }), /artifactType is not a string/);
});
