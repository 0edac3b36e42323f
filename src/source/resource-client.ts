/**
 * The source layer: what a URL points at, and its bytes. Mirrors Dragonfly's `pkg/source`
 * `ResourceClient`, reshaped for a client that knows sizes up front.
 *
 * @module
 */
import type { Readable } from 'node:stream';
import type { ByteRange, SignalOptions } from '../core/types.js';
import type { BodyMemory, ChunkSink } from '../internal/chunks.js';

/** The blob a resolved URL points at: enough to read it again without resolving. */
export interface BlobTarget {
  /** The URL as given by the user (normalised, credentials stripped). */
  readonly url: string;
  /** Content digest of the blob, `sha256:<64 hex>`. */
  readonly digest: string;
  /** Size in bytes, from the manifest descriptor. */
  readonly size: number;
  /** Media type of the blob (the layer's `mediaType`). */
  readonly mediaType: string;
}

/** What {@link ResourceClient.resolve} returns. */
export interface ResolvedResource extends BlobTarget {
  /**
   * Dragonfly's rewritten URL: `url` with `?digest=sha256%3A<hex>` (query re-encoded, keys sorted).
   * Task ids are computed from it, so they match Dragonfly's for the same pull.
   */
  readonly resolvedUrl: string;
  /** Digest of the manifest that was chosen (after index → platform selection). */
  readonly manifestDigest: string;
  /** Media type of that manifest (OCI or Docker image manifest). */
  readonly manifestMediaType?: string | undefined;
  /** The artifact's type: the manifest's `artifactType`, else its config's media type. */
  readonly artifactType?: string | undefined;
  /** The tag of the reference, if it had one. */
  readonly tag?: string | undefined;
  /** The blob's file name as its publisher titled it (`org.opencontainers.image.title`), unchecked. */
  readonly title?: string | undefined;
}

/** The result of {@link ResourceClient.read}. */
export interface BlobRead {
  /** The bytes. The consumer must read it to the end or destroy it. */
  readonly body: Readable;
  /** The span this body covers (the requested range, or the whole blob). */
  readonly range: ByteRange;
}

/** A blob request for another downloader (see {@link ResourceClient.blobRequest}). Holds secrets: never log `headers`. */
export interface OriginRequest {
  /** `https://host/v2/<repo>/blobs/<digest>` (or `http://` for a plain-HTTP registry). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Per-call options of resolve/read. */
export interface ResourceRequestOptions extends SignalOptions {
  /** Extra request headers (`-H` of dfget). `Authorization` here overrides discovered credentials. */
  headers?: Record<string, string> | undefined;
}

/**
 * A registry (or any origin) that can resolve URLs to blobs and read byte ranges of them.
 * {@link OrasResourceClient} implements it for `oras://`; host applications may register others.
 */
export interface ResourceClient {
  /** Resolves a URL to the blob it points at now. Makes no blob request. */
  resolve(url: string, options?: ResourceRequestOptions): Promise<ResolvedResource>;
  /**
   * Resolves a URL to every blob of its artifact (each layer of the manifest, in order), for
   * whole-artifact pulls. Optional: clients without it cannot serve `downloadAll`.
   */
  resolveLayers?(url: string, options?: ResourceRequestOptions): Promise<ResolvedResource[]>;
  /**
   * The HTTP request another downloader (a Dragonfly daemon, its proxy) should make for the blob:
   * its URL and the headers it needs, `Authorization` included (fresh, scoped to the repository).
   * Makes no blob request. Optional: clients without it cannot hand blobs to a cluster.
   */
  blobRequest?(target: BlobTarget, options?: ResourceRequestOptions): Promise<OriginRequest>;
  /** Whether the origin honours `Range` for this blob (probed once, then cached). */
  supportsRange(target: BlobTarget, options?: ResourceRequestOptions): Promise<boolean>;
  /**
   * Reads the blob, or `range` of it. A ranged read that the server answers with the whole body
   * rejects with `RangeNotSupportedError` (code `ERR_ORASFLY_RANGE_NOT_SUPPORTED`) rather than
   * handing out bytes from the wrong offset.
   */
  read(target: BlobTarget, range?: ByteRange, options?: ResourceRequestOptions): Promise<BlobRead>;
  /**
   * Pushes the blob, or `range` of it, into `sink` with {@link read}'s checks; a client may read the
   * body straight into `memory`. Optional: without it, transports pump {@link read}'s body.
   */
  stream?(
    target: BlobTarget,
    range: ByteRange | undefined,
    sink: ChunkSink,
    options?: ResourceRequestOptions & { memory?: BodyMemory | undefined },
  ): Promise<void>;
  /** Closes connection pools. */
  close?(): Promise<void>;
}
