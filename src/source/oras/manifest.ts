/**
 * Manifest shapes (OCI image manifest, Docker v2 manifest, OCI index, Docker manifest list),
 * their validation, platform selection and layer choice.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { ManifestError } from '../../core/errors.js';
import type { Platform } from './options.js';
import { isValidDigest } from '../../core/digest.js';
import { clip, listBounded, MAX_LISTED_ITEMS, quote } from '../../core/describe.js';

/** OCI image manifest media type. */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** OCI image index media type. */
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** Docker v2 schema 2 manifest media type. */
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
/** Docker manifest list media type. */
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** The `Accept` header for manifest requests: every type we can read (the registry 404s OCI manifests without it). */
export const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST].join(', ');
/** SIF layer media type (Apptainer). */
export const SIF_LAYER_MEDIA_TYPE = 'application/vnd.sylabs.sif.layer.v1.sif';
/** Legacy (misspelled) SIF layer media type pushed by old Singularity clients. */
export const LEGACY_SIF_LAYER_MEDIA_TYPE = 'appliciation/vnd.sylabs.sif.layer.tar';

/** A content descriptor. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  readonly platform?: Platform | undefined;
}

/** A parsed image manifest (OCI or Docker v2). */
export interface ImageManifest {
  readonly kind: 'manifest';
  readonly mediaType: string;
  readonly config: Descriptor | undefined;
  readonly layers: readonly Descriptor[];
  /** OCI 1.1 `artifactType`, else the config's media type (oras's rule). */
  readonly artifactType?: string | undefined;
}

/** A parsed index / manifest list. */
export interface ImageIndex {
  readonly kind: 'index';
  readonly mediaType: string;
  readonly manifests: readonly Descriptor[];
}

/** sha256 digest string of `bytes`. */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Digest of `bytes` with the algorithm of `like` (sha256 or sha512). */
export function digestLike(like: string, bytes: Uint8Array): string {
  const alg = like.startsWith('sha512:') ? 'sha512' : 'sha256';
  return `${alg}:${createHash(alg).update(bytes).digest('hex')}`;
}

function descriptor(v: unknown, where: string, requireMediaType: boolean): Descriptor {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ManifestError(`${where} is not an object`);
  const o = v as Record<string, unknown>;
  const digest = o['digest'];
  if (!isValidDigest(digest)) throw new ManifestError(`${where}.digest is not a valid digest`);
  const size = o['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw new ManifestError(`${where}.size is not a non-negative safe integer`);
  const mediaType = o['mediaType'];
  if (mediaType !== undefined && typeof mediaType !== 'string')
    throw new ManifestError(`${where}.mediaType is not a string`);
  if (requireMediaType && (typeof mediaType !== 'string' || mediaType === ''))
    throw new ManifestError(`${where}.mediaType is missing`);
  let annotations: Record<string, string> | undefined;
  if (o['annotations'] !== undefined && o['annotations'] !== null) {
    if (typeof o['annotations'] !== 'object' || Array.isArray(o['annotations']))
      throw new ManifestError(`${where}.annotations is not an object`);
    annotations = Object.fromEntries(
      Object.entries(o['annotations'] as object).filter(([, x]) => typeof x === 'string'),
    ) as Record<string, string>;
  }
  let platform: Platform | undefined;
  const p = o['platform'];
  if (p !== undefined && p !== null) {
    const pp = p as Record<string, unknown>;
    if (typeof pp !== 'object' || typeof pp['os'] !== 'string' || typeof pp['architecture'] !== 'string')
      throw new ManifestError(`${where}.platform needs os and architecture strings`);
    platform = {
      os: pp['os'],
      architecture: pp['architecture'],
      variant: typeof pp['variant'] === 'string' ? pp['variant'] : undefined,
    };
  }
  return { mediaType: (mediaType as string | undefined) ?? '', digest, size, annotations, platform };
}

/**
 * Parses and validates manifest bytes. `contentType` (the response's) decides the type when the
 * body has no `mediaType`; OCI bodies may omit it.
 *
 * @throws ManifestError (`ERR_ORASFLY_MANIFEST`) for non-JSON, a wrong `schemaVersion`, an unknown
 * type, or an invalid descriptor.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined): ImageManifest | ImageIndex {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ManifestError('manifest is not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new ManifestError('manifest is not a JSON object');
  const o = json as Record<string, unknown>;
  if (o['schemaVersion'] !== 2)
    throw new ManifestError(`unsupported manifest schemaVersion ${quote(o['schemaVersion'])} (expected 2)`);
  const ct = contentType?.split(';')[0]?.trim().toLowerCase();
  const declared = typeof o['mediaType'] === 'string' ? o['mediaType'] : undefined;
  let mediaType = declared ?? ct ?? '';
  if (!mediaType || mediaType === 'application/json' || mediaType === 'application/octet-stream')
    mediaType = Array.isArray(o['manifests']) ? OCI_INDEX : OCI_MANIFEST;
  if (mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST) {
    if (!Array.isArray(o['manifests'])) throw new ManifestError('index has no manifests array');
    return {
      kind: 'index',
      mediaType,
      manifests: o['manifests'].map((m, i) => descriptor(m, `manifests[${i}]`, false)),
    };
  }
  if (mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST) {
    const layers = o['layers'];
    if (layers !== undefined && layers !== null && !Array.isArray(layers))
      throw new ManifestError('layers is not an array');
    const config = o['config'] === undefined ? undefined : descriptor(o['config'], 'config', false);
    const declaredType = o['artifactType'];
    if (declaredType !== undefined && typeof declaredType !== 'string')
      throw new ManifestError('artifactType is not a string');
    return {
      kind: 'manifest',
      mediaType,
      config,
      artifactType: declaredType || config?.mediaType || undefined,
      layers: ((layers as unknown[] | undefined | null) ?? []).map((l, i) =>
        descriptor(l, `layers[${i}]`, mediaType === DOCKER_MANIFEST),
      ),
    };
  }
  throw new ManifestError(`unsupported manifest media type ${quote(mediaType)}`);
}

/**
 * Picks the index entry for `platform`: os and architecture must match; the variant is compared
 * only when the requested platform has one (then an entry without a variant is a fallback).
 *
 * @throws ManifestError (`ERR_ORASFLY_MANIFEST`) when no entry matches (the message lists what is there).
 */
export function selectPlatform(index: ImageIndex, platform: Platform): Descriptor {
  const candidates = index.manifests.filter(
    (m) => m.platform && m.platform.os === platform.os && m.platform.architecture === platform.architecture,
  );
  const exact =
    platform.variant === undefined
      ? candidates[0]
      : (candidates.find((m) => m.platform?.variant === platform.variant) ??
        candidates.find((m) => m.platform?.variant === undefined));
  if (!exact) {
    const have = listBounded(index.manifests, MAX_LISTED_ITEMS, (m) =>
      m.platform
        ? clip(`${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ''}`, 40)
        : '?',
    );
    throw new ManifestError(
      `no manifest for platform ${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''} in index (have: ${have || 'none'})`,
    );
  }
  return exact;
}

/** Layer choice options. */
export interface LayerChoice {
  layerMediaType?: string | undefined;
  layerIndex?: number | undefined;
}

/**
 * Chooses the layer to pull:
 * 1. the single SIF layer (`application/vnd.sylabs.sif.layer.v1.sif` or the legacy
 *    `appliciation/vnd.sylabs.sif.layer.tar`) when there is exactly one;
 * 2. else the `layerMediaType` option (exactly one layer must have it) or `layerIndex`
 *    (negative counts from the end);
 * 3. else the **last** layer — upstream Dragonfly's rule.
 *
 * @throws ManifestError (`ERR_ORASFLY_MANIFEST`) `manifest is empty` without layers, or when the
 * option matches no (or several) layers.
 */
export function chooseLayer(manifest: ImageManifest, choice: LayerChoice = {}): Descriptor {
  const layers = manifest.layers;
  if (layers.length === 0) throw new ManifestError('manifest is empty');
  // An explicit choice wins over the SIF preference, never the other way round.
  if (choice.layerMediaType !== undefined) {
    const m = layers.filter((l) => l.mediaType === choice.layerMediaType);
    if (m.length !== 1)
      throw new ManifestError(`${m.length} layers have media type ${quote(choice.layerMediaType)} (need exactly 1)`);
    return m[0]!;
  }
  if (choice.layerIndex !== undefined) {
    const i = choice.layerIndex < 0 ? layers.length + choice.layerIndex : choice.layerIndex;
    const l = layers[i];
    if (!l)
      throw new ManifestError(`layerIndex ${choice.layerIndex} is out of range (manifest has ${layers.length} layers)`);
    return l;
  }
  const sif = layers.filter((l) => l.mediaType === SIF_LAYER_MEDIA_TYPE || l.mediaType === LEGACY_SIF_LAYER_MEDIA_TYPE);
  if (sif.length === 1) return sif[0]!;
  if (layers.length === 1) return layers[0]!;
  // Several layers and no SIF among them (a container image): Dragonfly took the last one and
  // "succeeded" with a 113-byte tarball. Apptainer refuses such references; so do we, and say how to pick.
  const listed = listBounded(layers, MAX_LISTED_ITEMS, (l, i = layers.indexOf(l)) => {
    const title = l.annotations?.['org.opencontainers.image.title'];
    return `#${i} ${clip(l.mediaType, 60)} ${l.size} bytes${title ? ` ${quote(title, 40)}` : ''}`;
  });
  throw new ManifestError(
    `the manifest has ${layers.length} layers and ${sif.length === 0 ? 'no SIF layer' : `${sif.length} SIF layers`}, ` +
      `so it is not an ORAS SIF image; pick one with --layer-index N (-1 = the last, Dragonfly's ` +
      `rule) or --layer-media-type TYPE (oras.layerIndex / oras.layerMediaType). Layers: ${listed}`,
  );
}
