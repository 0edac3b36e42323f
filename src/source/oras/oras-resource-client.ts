/**
 * `OrasResourceClient`: `oras://` references → verified registry blobs, for any OCI registry.
 *
 * @module
 */
import { ClosedError, ManifestError, DigestMismatchError, TimeoutError } from '../../core/errors.js';
import type {
  BlobRead,
  BlobTarget,
  OriginRequest,
  ResolvedResource,
  ResourceClient,
  ResourceRequestOptions,
} from '../resource-client.js';
import type { ByteRange } from '../../core/types.js';
import { destroyBody } from './body.js';
import type { RegistryAccess } from './registry-access.js';
import { logSource } from './log.js';
import { SecretSet } from './secrets.js';
import { anySignal, raceSignal } from '../../internal/abort.js';
import { chooseLayer, selectPlatform, type Descriptor, type ImageManifest } from './manifest.js';
import { fetchManifestOf, type FetchedManifest, type ManifestFetchContext } from './manifest-fetch.js';
import { createDispatcher, directConnect, tlsSettings } from '../../http/dispatcher.js';
import { LazyDispatcher } from '../../http/lazy-undici.js';
import { checkRange, DirectBlobReads, headProblem, rangeHeaders } from './blob-read.js';
import { pumpChunks, type BodyMemory, type ChunkSink } from '../../internal/chunks.js';
import { SchemeChooser } from './scheme.js';
import { resolveOrasClientOptions, type OrasClientOptions, type ResolvedOrasClientOptions } from './options.js';
import {
  dragonflyResolvedUrl,
  formatReference,
  parseOrasReference,
  pullScope,
  type OrasReference,
} from './reference.js';

export type { FetchedManifest } from './manifest-fetch.js';

/** A resolved resource plus the manifest(s) it came from. */
export interface ResolvedOrasResource extends ResolvedResource {
  /** The parsed reference. */
  readonly reference: OrasReference;
  /** The chosen layer's descriptor (annotations such as the title included). */
  readonly layer: Descriptor;
  /** The digest of the index the manifest was picked from, when the reference named an index. */
  readonly indexDigest?: string | undefined;
}

/**
 * Resolves `oras://host[:port]/repo:tag` to its blob and reads it, against any OCI registry:
 * challenge-based auth (Bearer/Basic), docker credential discovery, OCI and Docker manifests and
 * indexes, verified TLS, retries, ranged reads validated by `206` + `Content-Range`.
 *
 * @example
 * ```ts
 * import { createWriteStream } from 'node:fs';
 * import { pipeline } from 'node:stream/promises';
 * import { OrasResourceClient } from 'orasfly';
 *
 * // Every option has a default. Credentials are not passed here: they are found when the registry
 * // challenges (containers auth.json, docker config.json, helpers; docs/security.md). TLS trusts
 * // Node's roots and the system CA bundle.
 * const client = new OrasResourceClient({ platform: { os: 'linux', architecture: 'amd64' } });
 * try {
 *   // The reference is the user's input; resolve() fetches the manifest (through an index, for
 *   // this platform) and picks the SIF layer. No blob byte is fetched.
 *   const target = await client.resolve('oras://ghcr.io/org/img:v1');
 *   console.log(target.digest, target.size, target.manifestDigest);
 *   // read() streams the blob, or a range of it. These bytes are NOT verified: PeerTaskConductor
 *   // (or createDownloader) checks them against target.digest.
 *   const { body } = await client.read(target, { start: 0, length: target.size });
 *   await pipeline(body, createWriteStream('img.sif'));
 * } finally {
 *   await client.close();
 * }
 * ```
 */
export class OrasResourceClient implements ResourceClient {
  /** The validated options in use. */
  readonly options: ResolvedOrasClientOptions;
  readonly #dispatcher: LazyDispatcher;
  /** Blob bodies on connections of their own, when requests need no proxy. */
  readonly #direct: DirectBlobReads | undefined;
  /** The request core, token flow and credentials: loaded at the first request through undici. */
  #access: RegistryAccess | undefined;
  #accessLoad: Promise<RegistryAccess> | undefined;
  readonly #refs = new Map<string, OrasReference>();
  readonly #ranges = new Map<string, Promise<boolean>>();
  /** Aborted by close(): stops the scheme probe and shared credential lookups. */
  readonly #lifetime = new AbortController();
  readonly #schemes: SchemeChooser;
  readonly #manifests: ManifestFetchContext;
  /** Every secret this client sent; server text is scrubbed against it. */
  readonly #secrets = new SecretSet();
  #closed = false;

  /**
   * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) naming the first invalid option.
   */
  constructor(options: OrasClientOptions = {}) {
    this.options = resolveOrasClientOptions(options);
    const tls = tlsSettings(this.options);
    this.#dispatcher = new LazyDispatcher((u) => createDispatcher(this.options, u, tls), this.options.dispatcher);
    const direct = directConnect(this.options, tls);
    this.#direct = direct && new DirectBlobReads(direct);
    // A reader of its own: like the probe through undici, the scheme probe is not in requestCount.
    const probes = direct && new DirectBlobReads(direct);
    this.#schemes = new SchemeChooser({
      plainHttp: this.options.plainHttp,
      userAgent: this.options.userAgent,
      dispatcher: this.#dispatcher,
      lifetime: this.#lifetime.signal,
      memory: this.options.cache,
      ...(probes && {
        directProbe: async (url: string, signal: AbortSignal) =>
          (await probes.getSmall(url, { 'user-agent': this.options.userAgent }, 64 * 1024, signal)) !== undefined,
      }),
    });
    this.#manifests = {
      http: async () => (await this.#registry()).http,
      maxManifestBytes: this.options.maxManifestBytes,
      tagCacheTtl: this.options.tagCacheTtl,
      memory: this.options.cache,
      now: Date.now,
      prepare: (ref, signal) => this.#schemes.decide(ref.apiHost, signal),
      repoBase: (ref) => this.#repoBase(ref),
      blobUrl: (ref, digest) => `${this.#repoBase(ref)}/blobs/${digest}`,
      ...(this.#direct && {
        directHead: async (ref, url, headers, signal) => {
          const h = { 'user-agent': this.options.userAgent, ...headers };
          return this.#direct!.head(url, await this.#withToken(ref, h, signal, false), signal);
        },
        directGet: async (ref, url, headers, limit, signal) => {
          const h = { 'user-agent': this.options.userAgent, ...headers };
          const r = await this.#direct!.getSmall(url, await this.#withToken(ref, h, signal, false), limit, signal);
          return r && { headers: r.head.headers, bytes: r.bytes };
        },
      }),
    };
  }

  /** HTTP requests put on the wire so far (attempts and redirect hops included). */
  get requestCount(): number {
    return (this.#access?.http.requests ?? 0) + (this.#direct?.requests ?? 0);
  }

  /** Token-service requests made so far. */
  get tokenFetchCount(): number {
    return this.#access?.auth.tokenFetches ?? 0;
  }

  /**
   * Parses a reference (cached per URL string).
   *
   * @throws InvalidReferenceError (`ERR_ORASFLY_INVALID_REFERENCE`).
   */
  parse(url: string): OrasReference {
    let ref = this.#refs.get(url);
    if (!ref) {
      ref = parseOrasReference(url);
      if (this.#refs.size > 1000) this.#refs.clear(); // bound the cache; parsing is cheap
      this.#refs.set(url, ref);
    }
    return ref;
  }

  /** `https://host/v2/<repo>/blobs/<digest>` (or `http://` per `plainHttp`) for a target. */
  blobUrl(target: Pick<BlobTarget, 'url' | 'digest'>): string {
    return `${this.#repoBase(this.parse(target.url))}/blobs/${target.digest}`;
  }

  /**
   * The request a Dragonfly daemon (or proxy) should make for the blob: its URL on the registry's
   * scheme, the caller's headers, and the `Authorization` this client's token flow holds for the
   * repository (refreshed when it is about to expire). No blob byte is fetched.
   */
  async blobRequest(target: BlobTarget, options: ResourceRequestOptions = {}): Promise<OriginRequest> {
    this.#checkOpen();
    const ref = this.parse(target.url);
    await this.#schemes.decide(ref.apiHost, options.signal);
    const headers = await this.#withToken(ref, { ...options.headers }, options.signal, true);
    return { url: this.blobUrl(target), headers };
  }

  /**
   * Fetches a manifest (or index) of the reference's repository by tag or digest, through the
   * `maxManifestBytes` limit, checking its digest against the requested one and against
   * `Docker-Content-Digest` when the registry sends it.
   *
   * @throws ManifestError (`ERR_ORASFLY_MANIFEST`) / SizeLimitError (`ERR_ORASFLY_SIZE_LIMIT`) /
   * DigestMismatchError (`ERR_ORASFLY_DIGEST_MISMATCH`) / RegistryResponseError / AuthError.
   */
  async fetchManifest(url: string, reference?: string, options: ResourceRequestOptions = {}): Promise<FetchedManifest> {
    this.#checkOpen();
    const ref = this.parse(url);
    return fetchManifestOf(this.#manifests, ref, reference ?? ref.reference, options);
  }

  /**
   * Resolves `url` to the blob it points at now: manifest (index → the configured platform's
   * manifest, one level), then the layer (the single SIF layer; else `layerMediaType`/`layerIndex`; else the last layer). Makes no blob request.
   * With Dragonfly's `?digest=` query, the chosen layer must have that digest.
   *
   * @throws InvalidReferenceError (`ERR_ORASFLY_INVALID_REFERENCE`) before any request.
   * @throws ManifestError (`ERR_ORASFLY_MANIFEST`), SizeLimitError, DigestMismatchError,
   * AuthError (`ERR_ORASFLY_AUTH`), RegistryResponseError (`ERR_ORASFLY_REGISTRY_RESPONSE`),
   * TlsError, NetworkError, TimeoutError, CredentialsError.
   */
  async resolve(url: string, options: ResourceRequestOptions = {}): Promise<ResolvedOrasResource> {
    const ref = this.parse(url);
    this.#checkOpen();
    return this.#withDeadline(`resolving ${formatReference({ ...ref, layerDigest: undefined })}`, options, (o) =>
      this.#resolve(ref, url, o),
    );
  }

  /**
   * Runs a metadata operation under `metadataTimeout` (retries and backoff included): however a
   * registry stalls — headers that never come, `Retry-After`, a token service that hangs — the
   * caller hears back in bounded time.
   */
  async #withDeadline<T>(
    what: string,
    options: ResourceRequestOptions,
    run: (o: ResourceRequestOptions) => Promise<T>,
  ): Promise<T> {
    const ms = this.options.metadataTimeout;
    if (ms <= 0) return run(options);
    const deadline = AbortSignal.timeout(ms);
    const signal = anySignal(options.signal, deadline)!;
    try {
      return await raceSignal(run({ ...options, signal }), signal);
    } catch (e) {
      if (deadline.aborted && !options.signal?.aborted) throw new TimeoutError(ms, `${what} (oras.metadataTimeout)`);
      throw e;
    }
  }

  /**
   * Resolves a reference to every layer of its manifest (after platform selection), in manifest
   * order: one {@link ResolvedOrasResource} per layer, each with its own Dragonfly URL and task.
   *
   * @throws ManifestError (`ERR_ORASFLY_MANIFEST`) for a manifest without layers.
   */
  async resolveLayers(url: string, options: ResourceRequestOptions = {}): Promise<ResolvedOrasResource[]> {
    const ref = this.parse(url);
    this.#checkOpen();
    return this.#withDeadline(
      `resolving ${formatReference({ ...ref, layerDigest: undefined })}`,
      options,
      async (o) => {
        const m = await this.#manifestOf(ref, url, o);
        if (m.manifest.layers.length === 0) throw new ManifestError('manifest is empty');
        return m.manifest.layers.map((layer) => this.#layerResource(ref, m, layer));
      },
    );
  }

  /** The image manifest a reference names: an index is resolved to this client's platform. */
  async #manifestOf(
    ref: OrasReference,
    url: string,
    options: ResourceRequestOptions,
  ): Promise<{ manifest: ImageManifest; digest: string; indexDigest: string | undefined }> {
    let fetched = await this.fetchManifest(url, ref.reference, options);
    let indexDigest: string | undefined;
    if (fetched.manifest.kind === 'index') {
      indexDigest = fetched.digest;
      const entry = selectPlatform(fetched.manifest, this.options.platform);
      fetched = await this.fetchManifest(url, entry.digest, options);
      if (fetched.manifest.kind === 'index') throw new ManifestError('nested image indexes are not supported');
    }
    return { manifest: fetched.manifest as ImageManifest, digest: fetched.digest, indexDigest };
  }

  #layerResource(
    ref: OrasReference,
    m: { manifest: ImageManifest; digest: string; indexDigest: string | undefined },
    layer: Descriptor,
  ): ResolvedOrasResource {
    const plain = { ...ref, layerDigest: undefined };
    return {
      url: formatReference(plain),
      resolvedUrl: dragonflyResolvedUrl(plain, layer.digest),
      digest: layer.digest,
      size: layer.size,
      mediaType: layer.mediaType,
      manifestDigest: m.digest,
      manifestMediaType: m.manifest.mediaType,
      artifactType: m.manifest.artifactType,
      tag: ref.tag,
      title: layer.annotations?.['org.opencontainers.image.title'],
      reference: ref,
      layer,
      indexDigest: m.indexDigest,
    };
  }

  async #resolve(ref: OrasReference, url: string, options: ResourceRequestOptions): Promise<ResolvedOrasResource> {
    const m = await this.#manifestOf(ref, url, options);
    const layer = chooseLayer(m.manifest, this.options);
    if (ref.layerDigest !== undefined && ref.layerDigest !== layer.digest)
      throw new DigestMismatchError(ref.layerDigest, layer.digest, 'layer (digest query)');
    return this.#layerResource(ref, m, layer);
  }

  /**
   * Probes range support with `GET Range: bytes=0-0`: true only for `206` with
   * `Content-Range: bytes 0-0/<size>`. Cached per blob; the probe body is destroyed.
   */
  async supportsRange(target: BlobTarget, options: ResourceRequestOptions = {}): Promise<boolean> {
    this.#checkOpen();
    await this.#schemes.decide(this.parse(target.url).apiHost, options.signal);
    const key = `${this.blobUrl(target)}|${target.size}`;
    let p = this.#ranges.get(key);
    if (!p) {
      // Shared by every caller, so it runs on the client's lifetime, not on one caller's signal:
      // one caller's cancellation must not fail the others. Each caller still stops waiting at once.
      p = this.#withDeadline(
        `range probe of ${target.digest}`,
        { headers: options.headers, signal: this.#lifetime.signal },
        (o) => this.#probeRange(target, o),
      );
      this.#ranges.set(key, p);
      p.catch(() => this.#ranges.delete(key));
    }
    return raceSignal(p, options.signal);
  }

  async #probeRange(target: BlobTarget, options: ResourceRequestOptions): Promise<boolean> {
    if (target.size === 0) return false;
    const ref = this.parse(target.url);
    const res = await (
      await this.#registry()
    ).http.send({
      method: 'GET',
      url: this.blobUrl(target),
      headers: { ...options.headers, range: 'bytes=0-0' },
      auth: { registry: ref.registry, scope: pullScope(ref.repository) },
      accept: [200, 206, 416],
      noBodyStatuses: [416],
      signal: options.signal,
    });
    destroyBody(res.body);
    const ok = res.status === 206 && header(res.headers['content-range']) === `bytes 0-0/${target.size}`;
    logSource(
      '%s range probe %s → %d %s: %s',
      res.requestId,
      target.digest,
      res.status,
      header(res.headers['content-range']) ?? '-',
      ok,
    );
    return ok;
  }

  /**
   * Reads the blob (or `range` of it). Whole reads check `Content-Length` against `target.size`;
   * ranged reads send `Range: bytes=a-b` and require `206` with exactly `Content-Range: bytes a-b/size`.
   * The body is not hashed here: callers verify the digest (pieces arrive out of order).
   *
   * @throws RangeNotSupportedError (`ERR_ORASFLY_RANGE_NOT_SUPPORTED`) when a ranged request is
   * answered with 200 or another span.
   * @throws SizeMismatchError (`ERR_ORASFLY_SIZE_MISMATCH`) when `Content-Length` disagrees.
   * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) for a range outside the blob.
   * @throws RegistryResponseError (404 `BLOB_UNKNOWN`, …), AuthError, TlsError, NetworkError.
   */
  async read(target: BlobTarget, range?: ByteRange, options: ResourceRequestOptions = {}): Promise<BlobRead> {
    this.#checkOpen();
    const ref = this.parse(target.url);
    await this.#schemes.decide(ref.apiHost, options.signal);
    checkRange(target, range);
    const res = await (
      await this.#registry()
    ).http.send({
      method: 'GET',
      url: this.blobUrl(target),
      headers: rangeHeaders(options.headers, range),
      auth: { registry: ref.registry, scope: pullScope(ref.repository) },
      accept: range ? [200, 206] : [200],
      noBodyStatuses: [416],
      signal: options.signal,
    });
    const problem = headProblem(
      target,
      range,
      res.status,
      header(res.headers['content-range']),
      header(res.headers['content-length']),
    );
    if (problem) {
      destroyBody(res.body);
      throw problem;
    }
    return {
      body: res.body,
      range: range ? { start: range.start, length: range.length } : { start: 0, length: target.size },
    };
  }

  /**
   * Streams the blob (or `range` of it) into `sink`, with {@link read}'s checks. With `memory`, and
   * no proxy or injected dispatcher, the body is read on a connection of its own straight into that
   * memory (`http/socket-get.ts`); a redirect, a challenge or an error status goes through {@link read}.
   */
  async stream(
    target: BlobTarget,
    range: ByteRange | undefined,
    sink: ChunkSink,
    options: ResourceRequestOptions & { memory?: BodyMemory | undefined } = {},
  ): Promise<void> {
    this.#checkOpen();
    if (options.memory && this.#direct) {
      const ref = this.parse(target.url);
      await this.#schemes.decide(ref.apiHost, options.signal);
      checkRange(target, range);
      const headers = await this.#withToken(
        ref,
        rangeHeaders({ 'user-agent': this.options.userAgent, ...options.headers }, range),
        options.signal,
        false,
      );
      const o = { sink, memory: options.memory, signal: options.signal };
      if (await this.#direct.stream(this.blobUrl(target), target, range, headers, o)) return;
    }
    const r = await this.read(target, range, options);
    await pumpChunks(r.body, sink, options.signal);
  }

  /** Closes the connection pool (not an injected `dispatcher`). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#lifetime.abort(new DOMException('client closed', 'AbortError'));
    if (this.options.dispatcher) return;
    const dispatcher = await this.#dispatcher.current();
    if (!dispatcher) return; // no request ever went through undici
    // close() waits for requests in flight; one a hostile server keeps open must not hold us.
    const closed = dispatcher.close();
    const grace = new Promise<'late'>((r) => setTimeout(() => r('late'), CLOSE_GRACE_MS).unref());
    if ((await Promise.race([closed.then(() => 'closed' as const), grace])) === 'late') await dispatcher.destroy();
  }

  /**
   * `headers` with the `Authorization` of this client's token flow for the repository, unless the
   * caller gave one. `load` starts the token flow if no request has yet (a daemon must get a token);
   * otherwise only a token the client already holds is used — a first direct request goes without
   * one, and its challenge sends it through undici, which runs the flow.
   */
  async #withToken(
    ref: OrasReference,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    load: boolean,
  ): Promise<Record<string, string>> {
    if (Object.keys(headers).some((k) => k.toLowerCase() === 'authorization')) return headers;
    const tokens = load ? (await this.#registry()).auth : this.#access?.auth;
    const auth = await tokens?.authorization(ref.registry, pullScope(ref.repository), signal);
    if (auth) headers['authorization'] = auth;
    return headers;
  }

  /** The request core and token flow, loaded and wired at the first call. */
  #registry(): Promise<RegistryAccess> {
    if (this.#access) return Promise.resolve(this.#access);
    return (this.#accessLoad ??= import('./registry-access.js').then(
      ({ createRegistryAccess }) =>
        (this.#access = createRegistryAccess({
          options: this.options,
          dispatcher: this.#dispatcher,
          secrets: this.#secrets,
          lifetime: this.#lifetime.signal,
          unansweredProbe: (host) => this.#schemes.unansweredProbe(host),
        })),
    ));
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError('OrasResourceClient');
  }

  #repoBase(ref: OrasReference): string {
    return `${this.#schemes.schemeOf(ref.apiHost)}://${ref.apiHost}/v2/${ref.repository}`;
  }
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** How long `close()` lets requests in flight finish before destroying the connections. */
const CLOSE_GRACE_MS = 1000;
