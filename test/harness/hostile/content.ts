/**
 * The hostile registry's content: deterministic blobs and the OCI manifests that name them, one
 * artifact per scenario.
 *
 * @module
 */
import { createCipheriv, createHash } from 'node:crypto';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const TAG = 't';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const SIF_LAYER = 'application/vnd.sylabs.sif.layer.v1.sif';
const SIF_CONFIG = 'application/vnd.sylabs.sif.config.v1+json';
export const EMPTY_CONFIG = Buffer.from('{}');

export const sha256 = (b: Uint8Array | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
export const CONFIG_DIGEST = sha256(EMPTY_CONFIG);

/** Deterministic pseudo-random bytes for `seed` (AES-256-CTR over zeros). */
export function prng(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(`orasfly-hostile:${seed}`).digest();
  const c = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(size)), c.final()]);
}

export const layerDescriptor = (digest: unknown, size: unknown, mediaType = SIF_LAYER): Record<string, unknown> => ({
  mediaType,
  digest,
  size,
  annotations: { 'org.opencontainers.image.title': 'image.sif' },
});

export function ociManifest(layers: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: SIF_CONFIG, digest: CONFIG_DIGEST, size: EMPTY_CONFIG.length },
    layers,
    ...extra,
  };
}

/** A scenario's own artifact: a blob and the manifest that names it. */
export interface Artifact {
  readonly blob: Buffer;
  readonly digest: string;
  readonly size: number;
  readonly manifestBytes: Buffer;
  readonly manifestDigest: string;
}

export function artifact(seed: string, size: number): Artifact {
  const blob = prng(seed, size);
  const digest = sha256(blob);
  const manifestBytes = Buffer.from(JSON.stringify(ociManifest([layerDescriptor(digest, size)])));
  return { blob, digest, size, manifestBytes, manifestDigest: sha256(manifestBytes) };
}
