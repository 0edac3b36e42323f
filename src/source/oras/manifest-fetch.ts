/**
 * Getting a manifest by tag or digest while asking the registry as little as possible. A digest
 * the client's {@link RegistryMemory} holds needs no request at all (the registry may be down). A
 * tag is trusted for `tagCacheTtl` when one is set; otherwise a `HEAD` asks where it points now
 * (`Docker-Content-Digest`) and a known manifest is not fetched again — registries that count pulls
 * count `GET`s. Everything else is one `GET` through the manifest size limit, checked against the
 * requested digest and the registry's `Docker-Content-Digest`, then remembered.
 *
 * @module
 */
import { DigestMismatchError, RegistryResponseError } from '../../core/errors.js';
import type { ResourceRequestOptions } from '../resource-client.js';
import { destroyBody, readLimited } from './body.js';
import type { RegistryHttp } from './http.js';
import { logSource } from './log.js';
import { digestLike, MANIFEST_ACCEPT, parseManifest, type ImageIndex, type ImageManifest } from './manifest.js';
import { sendManifestGet } from './manifest-request.js';
import type { RegistryMemory } from './options.js';
import { pullScope, type OrasReference } from './reference.js';

/** A fetched, digest-checked, parsed manifest. */
export interface FetchedManifest {
  /** The manifest's own digest (sha256 of `bytes`, or the requested digest's algorithm). */
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Buffer;
  readonly manifest: ImageManifest | ImageIndex;
}

/** What the fetcher needs from its client. */
export interface ManifestFetchContext {
  /** The request core (loaded at the first request through undici). */
  http(): Promise<RegistryHttp>;
  readonly maxManifestBytes: number;
  /** ms; 0 = a tag is asked every time. */
  readonly tagCacheTtl: number;
  readonly memory: RegistryMemory | undefined;
  readonly now: () => number;
  /** Decides the registry's scheme (a probe, for loopback): only before a request. */
  prepare(ref: OrasReference, signal: AbortSignal | undefined): Promise<void>;
  /** `scheme://host/v2/<repo>` of the reference. */
  repoBase(ref: OrasReference): string;
  /** The blob URL of a digest in the reference's repository (to tell a layer digest from a manifest's). */
  blobUrl(ref: OrasReference, digest: string): string;
  /**
   * A `HEAD` on a connection of its own (no undici to load for a reuse): the registry's answer (a
   * `200`, or an error status undici would only repeat), or `undefined` to send it through undici
   * instead (a challenge, a redirect, no connection).
   */
  directHead?(
    ref: OrasReference,
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<{ readonly status: number; readonly headers: Readonly<Record<string, string>> } | undefined>;
  /**
   * A `GET` on a connection of its own, the body read whole within `limit` bytes: the `200`'s
   * headers and bytes, or `undefined` to send it through undici (any other answer, or none). Asked
   * only after {@link directHead} got a `200` for the same URL, so that an error is not asked twice.
   */
  directGet?(
    ref: OrasReference,
    url: string,
    headers: Record<string, string>,
    limit: number,
    signal: AbortSignal | undefined,
  ): Promise<{ readonly headers: Readonly<Record<string, string>>; readonly bytes: Buffer } | undefined>;
}

const DIGEST_HEADER_RE = /^sha(256|512):[0-9a-f]+$/;

/** Gets `wanted` (a tag or a digest) of `ref`'s repository. */
export async function fetchManifestOf(
  c: ManifestFetchContext,
  ref: OrasReference,
  wanted: string,
  options: ResourceRequestOptions,
): Promise<FetchedManifest> {
  const memory = c.memory;
  const isDigest = wanted.includes(':');
  const tagKey = `${ref.registry}/${ref.repository}:${wanted}`;
  /** Where a `HEAD` said the tag points (already recorded). */
  let headed: string | undefined;
  /** Whether that `HEAD` got a `200` on a connection of its own: the `GET` may go the same way. */
  let headedDirectly = false;
  if (memory && isDigest) {
    const hit = await remembered(memory, wanted);
    if (hit) return hit;
  } else if (memory) {
    const seen = c.tagCacheTtl > 0 ? await memory.tag(tagKey) : undefined;
    const age = seen ? c.now() - seen.seenAt : -1;
    // A sighting from the future (a clock set back, another machine's record) is not trusted for ever.
    if (seen && age >= 0 && age < c.tagCacheTtl) {
      const hit = await remembered(memory, seen.digest);
      if (hit) return hit;
    }
    ({ digest: headed, direct: headedDirectly } = await headDigest(c, ref, wanted, options));
    if (headed !== undefined) {
      // Where the tag points is recorded whether or not the manifest is kept (the registry said so),
      // while the manifest is read: the reuse path waits for neither one after the other.
      const [hit] = await Promise.all([remembered(memory, headed), memory.putTag(tagKey, headed)]);
      if (hit) return hit;
    }
  }
  const fetched = await getManifest(c, ref, wanted, options, headedDirectly);
  if (memory) {
    await Promise.all([
      memory.putManifest(fetched.digest, { bytes: fetched.bytes, mediaType: fetched.mediaType }),
      isDigest || fetched.digest === headed ? undefined : memory.putTag(tagKey, fetched.digest),
    ]);
  }
  return fetched;
}

async function remembered(memory: RegistryMemory, digest: string): Promise<FetchedManifest | undefined> {
  const m = await memory.manifest(digest);
  if (!m) return undefined;
  try {
    const bytes = Buffer.from(m.bytes);
    const manifest = parseManifest(bytes, m.mediaType || undefined);
    logSource('manifest %s from the store', digest);
    return { digest, mediaType: manifest.mediaType, bytes, manifest };
  } catch {
    return undefined; // not a manifest we can use after all: ask the registry
  }
}

/**
 * Where the tag points now, by `HEAD`: `digest` is `undefined` when the registry does not say (no
 * header, or a status the `GET` will explain better); `direct` when a connection of its own got a `200`.
 */
async function headDigest(
  c: ManifestFetchContext,
  ref: OrasReference,
  wanted: string,
  options: ResourceRequestOptions,
): Promise<{ digest: string | undefined; direct: boolean }> {
  await c.prepare(ref, options.signal);
  const url = `${c.repoBase(ref)}/manifests/${wanted}`;
  const direct = await c.directHead?.(ref, url, { ...options.headers, accept: MANIFEST_ACCEPT }, options.signal);
  if (direct)
    return direct.status === 200
      ? { digest: digestHeader(ref, wanted, direct.headers['docker-content-digest']), direct: true }
      : { digest: undefined, direct: false };
  try {
    const res = await (
      await c.http()
    ).send({
      method: 'HEAD',
      url,
      headers: { ...options.headers, accept: MANIFEST_ACCEPT },
      auth: { registry: ref.registry, scope: pullScope(ref.repository) },
      accept: [200],
      noBodyStatuses: [200],
      signal: options.signal,
    });
    destroyBody(res.body);
    // Only the registry's word counts: a redirect target (a CDN) could name any stored manifest.
    const h = res.crossOrigin ? undefined : res.headers['docker-content-digest'];
    return { digest: digestHeader(ref, wanted, Array.isArray(h) ? h[0] : h), direct: false };
  } catch (e) {
    if (e instanceof RegistryResponseError) return { digest: undefined, direct: false };
    throw e;
  }
}

function digestHeader(ref: OrasReference, wanted: string, d: string | undefined): string | undefined {
  logSource('manifest %s/%s:%s is %s (HEAD)', ref.registry, ref.repository, wanted, d ?? 'not said');
  return d !== undefined && DIGEST_HEADER_RE.test(d) ? d : undefined;
}

/**
 * The manifest `GET`, through the size limit, checked against both digests it may claim. `direct`:
 * a `HEAD` of it got a `200` on a connection of its own, so the `GET` goes that way first.
 */
async function getManifest(
  c: ManifestFetchContext,
  ref: OrasReference,
  wanted: string,
  options: ResourceRequestOptions,
  direct: boolean,
): Promise<FetchedManifest> {
  await c.prepare(ref, options.signal);
  const url = `${c.repoBase(ref)}/manifests/${wanted}`;
  const headers = { ...options.headers, accept: MANIFEST_ACCEPT };
  const { bytes, claimed, ct } =
    (direct ? await directManifest(c, ref, url, headers, options.signal) : undefined) ??
    (await undiciManifest(c, ref, wanted, url, headers, options.signal));
  const isDigest = wanted.includes(':');
  const digest = digestLike(isDigest ? wanted : 'sha256:', bytes);
  if (isDigest && digest !== wanted) throw new DigestMismatchError(wanted, digest, 'manifest');
  if (claimed && /^sha(256|512):/.test(claimed)) {
    const check = digestLike(claimed, bytes);
    if (check !== claimed) throw new DigestMismatchError(claimed, check, 'manifest (Docker-Content-Digest)');
  }
  const manifest = parseManifest(bytes, ct);
  logSource(
    'manifest %s/%s:%s %s %s (%d bytes)',
    ref.registry,
    ref.repository,
    wanted,
    manifest.mediaType,
    digest,
    bytes.length,
  );
  return { digest, mediaType: manifest.mediaType, bytes, manifest };
}

/** A manifest's bytes and the two headers that describe them. */
interface ManifestBody {
  bytes: Buffer;
  /** `Docker-Content-Digest`. */
  claimed: string | undefined;
  /** `Content-Type`. */
  ct: string | undefined;
}

/** The `GET` on a connection of its own; `undefined` when the client has none or it declined. */
async function directManifest(
  c: ManifestFetchContext,
  ref: OrasReference,
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<ManifestBody | undefined> {
  const r = await c.directGet?.(ref, url, headers, c.maxManifestBytes, signal);
  return r && { bytes: r.bytes, claimed: r.headers['docker-content-digest'], ct: r.headers['content-type'] };
}

/** The `GET` through undici: auth, retries, redirects, and what a `404` for a layer's digest means. */
async function undiciManifest(
  c: ManifestFetchContext,
  ref: OrasReference,
  wanted: string,
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<ManifestBody> {
  const get = {
    method: 'GET' as const,
    url,
    headers,
    auth: { registry: ref.registry, scope: pullScope(ref.repository) },
    accept: [200],
    signal,
  };
  const res = await sendManifestGet(await c.http(), get, ref, wanted, c.blobUrl(ref, wanted));
  const bytes = await readLimited(res.body, c.maxManifestBytes, 'manifest', res.headers['content-length'], signal);
  const first = (h: string | string[] | undefined): string | undefined => (Array.isArray(h) ? h[0] : h);
  // A redirect target's Docker-Content-Digest is not the registry's word (its bytes are still hashed).
  const claimed = res.crossOrigin ? undefined : first(res.headers['docker-content-digest']);
  return { bytes, claimed, ct: first(res.headers['content-type']) };
}
