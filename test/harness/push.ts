/**
 * Pushes test artifacts (Apptainer-style SIF images, multi-layer artifacts, image indexes) to a
 * {@link RunningRegistry} over plain node:http/https, independently of the code under test.
 *
 * Layer bytes are a deterministic AES-256-CTR keystream keyed by a seed: fast (GB/s), streamable
 * (1 GiB never sits in memory), reproducible for assertions ({@link layerBytes}), and different
 * for different seeds.
 *
 * @module
 */
import { createCipheriv, createHash, randomInt } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { RunningRegistry } from './registry.js';

/** Config media type Apptainer writes for SIF images. */
export const SIF_CONFIG_MEDIA_TYPE = 'application/vnd.sylabs.sif.config.v1+json';
/** Layer media type Apptainer writes for SIF images. */
export const SIF_LAYER_MEDIA_TYPE = 'application/vnd.sylabs.sif.layer.v1.sif';
/** OCI image manifest media type. */
export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
/** OCI image index media type. */
export const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
/** Docker schema 2 manifest media type. */
export const DOCKER_MANIFEST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';
/** Docker manifest list media type. */
export const DOCKER_MANIFEST_LIST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** Docker image config media type. */
export const DOCKER_CONFIG_MEDIA_TYPE = 'application/vnd.docker.container.image.v1+json';

/** A blob that is now in the registry. */
export interface PushedBlob {
  digest: string;
  size: number;
  mediaType: string;
  /** The seed the bytes were generated from (absent when the spec gave `data`); pass it to {@link layerBytes}. */
  seed?: number;
}

/** A manifest (and its blobs) that is now in the registry. */
export interface PushedArtifact {
  repo: string;
  /** The tag pushed; for the per-platform manifests of {@link pushIndex}, the manifest digest. */
  tag: string;
  manifestDigest: string;
  manifestMediaType: string;
  /** The exact manifest bytes pushed. */
  manifest: Buffer;
  config: PushedBlob;
  layers: PushedBlob[];
  /** The last layer (the SIF image for {@link pushSif}). */
  layer: PushedBlob;
}

/** What one layer holds. */
export interface LayerSpec {
  /** Default {@link SIF_LAYER_MEDIA_TYPE}. */
  mediaType?: string;
  /** Byte count of generated data (required unless `data` is given). */
  size?: number;
  /** Exact bytes (wins over `size`/`seed`). */
  data?: Uint8Array;
  /** Seed of the deterministic pseudo-random bytes; default a random one (reported back in {@link PushedBlob.seed}). */
  seed?: number;
  /**
   * Layer annotations. Default for SIF layers: `org.opencontainers.image.title` = `<repo basename>.sif`,
   * as Apptainer pushes them. Pass `{}` for none.
   */
  annotations?: Record<string, string>;
}

const CHUNK = 1 << 20;
const ZERO = Buffer.alloc(CHUNK);

/** The deterministic bytes of `seed`, `size` long, in chunks of at most 1 MiB. */
function* generate(seed: number, size: number): Generator<Buffer> {
  // AES-CTR over zeros is a keystream: position-stable, fast, and distinct per key (seed).
  const key = createHash('sha256').update(`orasfly-harness-layer:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  for (let left = size; left > 0; left -= CHUNK) {
    const n = Math.min(left, CHUNK);
    yield cipher.update(n === CHUNK ? ZERO : ZERO.subarray(0, n));
  }
}

const MAX_LAYER_BYTES = 256 * 2 ** 20;

/** Deterministic bytes of a layer spec, for assertions (e.g. compare a range). Only sizes ≤ 256 MiB. */
export function layerBytes(spec: LayerSpec & { size: number }): Buffer {
  if (spec.data) return Buffer.from(spec.data);
  if (spec.seed === undefined) throw new Error('layerBytes needs a seed (use PushedBlob.seed of the pushed layer)');
  if (spec.size > MAX_LAYER_BYTES) throw new Error(`layerBytes is for sizes ≤ 256 MiB, got ${spec.size}`);
  return Buffer.concat([...generate(spec.seed, spec.size)], spec.size);
}

/** sha256 of a layer spec's bytes, computed by streaming (any size). */
export function layerDigest(spec: LayerSpec & { size: number }): string {
  const h = createHash('sha256');
  if (spec.data) h.update(spec.data);
  else {
    if (spec.seed === undefined) throw new Error('layerDigest needs a seed');
    for (const chunk of generate(spec.seed, spec.size)) h.update(chunk);
  }
  return `sha256:${h.digest('hex')}`;
}

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

// ---------------------------------------------------------------------------------------------
// HTTP

interface Resp {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const caCache = new Map<string, Promise<Buffer>>();
function caOf(reg: RunningRegistry): Promise<Buffer | undefined> {
  if (reg.caFile === undefined) return Promise.resolve(undefined);
  let p = caCache.get(reg.caFile);
  if (!p) caCache.set(reg.caFile, (p = readFile(reg.caFile)));
  return p;
}

async function send(
  reg: RunningRegistry,
  method: string,
  url: string,
  headers: Record<string, string | number>,
  body?: Uint8Array | Readable,
): Promise<Resp> {
  const ca = await caOf(reg);
  const u = new URL(url, reg.origin);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise<Resp>((resolve, reject) => {
    const req = mod.request(u, { method, headers, ...(ca ? { ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body instanceof Readable) {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    } else {
      req.end(body);
    }
  });
}

function fail(what: string, r: Resp): never {
  throw new Error(`${what}: HTTP ${r.status} ${r.body.toString('utf8').slice(0, 500)}`);
}

function header(r: Resp, name: string): string | undefined {
  const v = r.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

// Push tokens are cached per registry and scope set so a test's pushes cost one token request each
// kind; tests counting token requests of the client under test should reset the counter after pushing.
const tokenCache = new WeakMap<RunningRegistry, Map<string, { token: string; until: number }>>();

/** The Authorization header for `scopes` on `reg` (none for anonymous registries). */
async function authFor(reg: RunningRegistry, scopes: string[]): Promise<Record<string, string>> {
  const creds = reg.credentials;
  if (!creds) return {};
  const basic = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
  const ts = reg.tokenServer;
  if (!ts) return { Authorization: basic };
  let cache = tokenCache.get(reg);
  if (!cache) tokenCache.set(reg, (cache = new Map()));
  const key = scopes.join(' ');
  const hit = cache.get(key);
  if (hit && hit.until > Date.now()) return { Authorization: `Bearer ${hit.token}` };
  const q = new URLSearchParams({ service: ts.service });
  for (const s of scopes) q.append('scope', s);
  const r = await send(reg, 'GET', `${ts.realm}?${q}`, { Authorization: basic });
  if (r.status !== 200) fail('token request', r);
  const json = JSON.parse(r.body.toString('utf8')) as { token?: string; access_token?: string; expires_in?: number };
  const token = json.token ?? json.access_token;
  if (!token) throw new Error('token response without a token');
  cache.set(key, { token, until: Date.now() + ((json.expires_in ?? 60) - 30) * 1000 });
  return { Authorization: `Bearer ${token}` };
}

const pushScope = (repo: string): string => `repository:${repo}:pull,push`;

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

async function startUpload(reg: RunningRegistry, repo: string, auth: Record<string, string>): Promise<string> {
  const r = await send(reg, 'POST', `/v2/${repo}/blobs/uploads/`, { ...auth, 'Content-Length': 0 });
  const loc = header(r, 'location');
  if (r.status !== 202 || !loc) fail(`POST /v2/${repo}/blobs/uploads/`, r);
  return loc;
}

/** Monolithic upload of bytes we hold (configs, small given data): POST, then PUT with the digest. */
async function uploadBytes(reg: RunningRegistry, repo: string, data: Uint8Array): Promise<string> {
  const auth = await authFor(reg, [pushScope(repo)]);
  const digest = sha256(data);
  const loc = await startUpload(reg, repo, auth);
  const r = await send(
    reg,
    'PUT',
    withDigest(loc, digest),
    { ...auth, 'Content-Type': 'application/octet-stream', 'Content-Length': data.byteLength },
    data,
  );
  if (r.status !== 201) fail(`PUT blob ${digest} to ${repo}`, r);
  return digest;
}

/**
 * Streamed upload of generated bytes in one pass: PATCH the stream (hashing as it goes, with
 * Content-Length), then close the upload with `PUT ?digest=` and no body. The digest is only
 * known at the end, so the monolithic `PUT ?digest=` would need a second pass over 1 GiB.
 */
async function uploadGenerated(reg: RunningRegistry, repo: string, seed: number, size: number): Promise<string> {
  const auth = await authFor(reg, [pushScope(repo)]);
  const loc = await startUpload(reg, repo, auth);
  const hash = createHash('sha256');
  const body = Readable.from(
    (function* () {
      for (const chunk of generate(seed, size)) {
        hash.update(chunk);
        yield chunk;
      }
    })(),
  );
  const patched = await send(
    reg,
    'PATCH',
    loc,
    { ...auth, 'Content-Type': 'application/octet-stream', 'Content-Length': size },
    body,
  );
  const next = header(patched, 'location');
  if (patched.status !== 202 || !next) fail(`PATCH blob upload to ${repo}`, patched);
  const digest = `sha256:${hash.digest('hex')}`;
  const r = await send(reg, 'PUT', withDigest(next, digest), { ...auth, 'Content-Length': 0 });
  if (r.status !== 201) fail(`PUT (close upload) ${digest} to ${repo}`, r);
  return digest;
}

async function pushLayer(
  reg: RunningRegistry,
  repo: string,
  spec: LayerSpec,
  index: number,
  count: number,
): Promise<{ blob: PushedBlob; annotations?: Record<string, string> }> {
  const mediaType = spec.mediaType ?? SIF_LAYER_MEDIA_TYPE;
  let blob: PushedBlob;
  if (spec.data) {
    if (spec.size !== undefined && spec.size !== spec.data.byteLength)
      throw new Error(`layer ${index}: size ${spec.size} ≠ data length ${spec.data.byteLength}`);
    blob = { digest: await uploadBytes(reg, repo, spec.data), size: spec.data.byteLength, mediaType };
  } else {
    if (spec.size === undefined) throw new Error(`layer ${index}: give size or data`);
    const seed = spec.seed ?? randomInt(2 ** 31);
    blob = { digest: await uploadGenerated(reg, repo, seed, spec.size), size: spec.size, mediaType, seed };
  }
  let annotations = spec.annotations;
  if (annotations === undefined && mediaType === SIF_LAYER_MEDIA_TYPE) {
    const base = repo.split('/').pop() ?? repo;
    annotations = {
      'org.opencontainers.image.title': count > 1 && index < count - 1 ? `${base}-${index}.sif` : `${base}.sif`,
    };
  }
  return annotations !== undefined && Object.keys(annotations).length > 0 ? { blob, annotations } : { blob };
}

/** Raw manifest PUT (for hostile manifests: arbitrary bytes and content type). Throws on a non-201 answer. */
export async function putRawManifest(
  reg: RunningRegistry,
  repo: string,
  tag: string,
  body: Uint8Array,
  contentType: string,
): Promise<string> {
  const auth = await authFor(reg, [pushScope(repo)]);
  const r = await send(
    reg,
    'PUT',
    `/v2/${repo}/manifests/${tag}`,
    { ...auth, 'Content-Type': contentType, 'Content-Length': body.byteLength },
    body,
  );
  if (r.status !== 201) fail(`PUT manifest ${repo}:${tag}`, r);
  return header(r, 'docker-content-digest') ?? sha256(body);
}

/** Options of {@link pushArtifact}. */
export interface ArtifactSpec {
  layers: LayerSpec[];
  /** `'oci'` (default) or `'docker'` (schema 2 with a docker image config). */
  manifestType?: 'oci' | 'docker';
  /** Default: {@link SIF_CONFIG_MEDIA_TYPE} for oci, {@link DOCKER_CONFIG_MEDIA_TYPE} for docker. */
  configMediaType?: string;
}

/** Pushes config, layers and manifest under `reference` (a tag or, for index children, the digest). */
async function pushManifest(
  reg: RunningRegistry,
  repo: string,
  reference: string | null,
  spec: ArtifactSpec,
): Promise<PushedArtifact> {
  if (spec.layers.length === 0) throw new Error('an artifact needs at least one layer');
  const docker = spec.manifestType === 'docker';
  const configBytes = Buffer.from('{}');
  const config: PushedBlob = {
    digest: await uploadBytes(reg, repo, configBytes),
    size: configBytes.byteLength,
    mediaType: spec.configMediaType ?? (docker ? DOCKER_CONFIG_MEDIA_TYPE : SIF_CONFIG_MEDIA_TYPE),
  };
  const pushed: Array<{ blob: PushedBlob; annotations?: Record<string, string> }> = [];
  for (const [i, l] of spec.layers.entries()) pushed.push(await pushLayer(reg, repo, l, i, spec.layers.length));
  const manifestMediaType = docker ? DOCKER_MANIFEST_MEDIA_TYPE : OCI_MANIFEST_MEDIA_TYPE;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestMediaType,
      config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
      layers: pushed.map(({ blob, annotations }) => ({
        mediaType: blob.mediaType,
        digest: blob.digest,
        size: blob.size,
        ...(annotations ? { annotations } : {}),
      })),
    }),
  );
  const manifestDigest = sha256(manifest);
  const got = await putRawManifest(reg, repo, reference ?? manifestDigest, manifest, manifestMediaType);
  if (got !== manifestDigest) throw new Error(`registry says manifest digest ${got}, computed ${manifestDigest}`);
  const layers = pushed.map((p) => p.blob);
  return {
    repo,
    tag: reference ?? manifestDigest,
    manifestDigest,
    manifestMediaType,
    manifest,
    config,
    layers,
    layer: layers[layers.length - 1]!,
  };
}

/** One SIF layer of `size` pseudo-random bytes (streamed: 1 GiB works without buffering), Apptainer-style. */
export function pushSif(
  reg: RunningRegistry,
  repo: string,
  tag: string,
  layer: LayerSpec & { size: number },
): Promise<PushedArtifact> {
  return pushManifest(reg, repo, tag, { layers: [layer] });
}

/** General artifact: several layers, OCI or docker manifest, optional config media type. */
export function pushArtifact(
  reg: RunningRegistry,
  repo: string,
  tag: string,
  spec: ArtifactSpec,
): Promise<PushedArtifact> {
  return pushManifest(reg, repo, tag, spec);
}

/** A platform of {@link pushIndex}. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/**
 * An OCI image index (or, with `listType: 'docker'`, a docker manifest list whose children are
 * docker schema 2 manifests) with one SIF manifest per platform, children pushed by digest.
 */
export async function pushIndex(
  reg: RunningRegistry,
  repo: string,
  tag: string,
  platforms: Array<Platform & { layer: LayerSpec & { size: number } }>,
  listType: 'oci' | 'docker' = 'oci',
): Promise<{ indexDigest: string; indexMediaType: string; manifests: Array<PushedArtifact & { platform: Platform }> }> {
  const manifests: Array<PushedArtifact & { platform: Platform }> = [];
  for (const p of platforms) {
    const platform: Platform = {
      os: p.os,
      architecture: p.architecture,
      ...(p.variant !== undefined ? { variant: p.variant } : {}),
    };
    const art = await pushManifest(reg, repo, null, {
      layers: [p.layer],
      manifestType: listType,
      ...(listType === 'docker' ? { configMediaType: DOCKER_CONFIG_MEDIA_TYPE } : {}),
    });
    manifests.push({ ...art, platform });
  }
  const indexMediaType = listType === 'docker' ? DOCKER_MANIFEST_LIST_MEDIA_TYPE : OCI_INDEX_MEDIA_TYPE;
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: indexMediaType,
      manifests: manifests.map((m) => ({
        mediaType: m.manifestMediaType,
        digest: m.manifestDigest,
        size: m.manifest.byteLength,
        platform: m.platform,
      })),
    }),
  );
  const indexDigest = await putRawManifest(reg, repo, tag, index, indexMediaType);
  return { indexDigest, indexMediaType, manifests };
}

/**
 * Makes `from`'s blobs appear under `repo:tag` too: cross-repo mount of config and layers
 * (`POST /v2/<repo>/blobs/uploads/?mount=D&from=R` → 201), then the same manifest bytes (so the
 * manifest digest is the same as well, as `skopeo copy` would produce).
 */
export async function tagBlobAs(
  reg: RunningRegistry,
  from: PushedArtifact,
  repo: string,
  tag: string,
): Promise<PushedArtifact> {
  const auth = await authFor(reg, [pushScope(repo), `repository:${from.repo}:pull`]);
  for (const blob of [from.config, ...from.layers]) {
    const q = new URLSearchParams({ mount: blob.digest, from: from.repo });
    const r = await send(reg, 'POST', `/v2/${repo}/blobs/uploads/?${q}`, { ...auth, 'Content-Length': 0 });
    if (r.status !== 201) fail(`mount ${blob.digest} from ${from.repo} into ${repo}`, r);
  }
  const digest = await putRawManifest(reg, repo, tag, from.manifest, from.manifestMediaType);
  return { ...from, repo, tag, manifestDigest: digest };
}

/** `sha256:<hex>` of a file, streamed (any size): what a pulled output is checked against. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}
