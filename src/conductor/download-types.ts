/**
 * What a download is asked and what it answers: the request and result of a single pull and of a
 * whole-artifact pull. Types only, shared by the manager, the artifact verb, the downloader and
 * the command.
 *
 * @module
 */
import type { ResolvedResource } from '../source/resource-client.js';
import type { SignalOptions } from '../core/types.js';
import type { ProgressEvent } from './events.js';

/** One download request (dfget's flags, as an object). */
export interface DownloadRequest extends SignalOptions {
  /** `oras://host[:port]/repo:tag` or `…@sha256:<hex>`. */
  url: string;
  /** Output file path (made absolute against `process.cwd()`). */
  output: string;
  /** Expected blob digest; a different resolved digest fails before any download. */
  digest?: string | undefined;
  /** Partitions the task id (dfget `--tag`). */
  tag?: string | undefined;
  /** Caller's application name, part of the task id (dfget `--application`). */
  application?: string | undefined;
  /** Query keys to leave out of the task id (dfget `--filter`, `a&b`). */
  filter?: string | undefined;
  /** Extra registry request headers (dfget `-H`). */
  headers?: Record<string, string> | undefined;
  /**
   * Gives up after this many ms (0 or undefined: no limit), with `ERR_ORASFLY_TIMEOUT`. What stays is
   * what an abort of {@link DownloadRequest.signal} keeps.
   */
  timeout?: number | undefined;
  /**
   * Cancels this request; it rejects with the signal's `reason`. Other requests attached to the same
   * task go on; when none is left the download stops. What an abort keeps: the verified pieces, as a
   * resumable entry in the store (the next request for the blob fetches only the missing pieces;
   * GC collects the entry once untouched for `taskExpireTime`). What it removes: anything at or
   * beside `output` (no partial output, no temp file; with the `advance` strategy, whose data file
   * lies beside the output, the whole entry). An entry with no verified piece is removed too.
   */
  signal?: AbortSignal | undefined;
  /** Progress callback; called at a bounded rate, never awaited. */
  onProgress?: ((p: ProgressEvent) => void) | undefined;
  /**
   * The blob `url` resolved to, when the caller has resolved it already (as
   * a whole-artifact pull does for each layer): no manifest is fetched again.
   * It must come from this manager's client. @defaultValue undefined (resolve `url`)
   */
  resolved?: ResolvedResource | undefined;
}

/** The outcome of a download. */
export interface DownloadResult {
  taskId: string;
  peerId: string;
  /** Absolute output path. */
  output: string;
  /** Blob digest, verified. */
  digest: string;
  /** Media type of the blob (the layer's). */
  mediaType: string;
  /** Digest of the manifest the blob was chosen from. */
  manifestDigest: string;
  /** Media type of that manifest. */
  manifestMediaType: string | undefined;
  /** The artifact's type (`artifactType`, else the config's media type), when the manifest says. */
  artifactType: string | undefined;
  contentLength: number;
  /** `true` when served from the store without downloading (multiplex reuse). */
  reused: boolean;
  /** `true` when this request joined a download another request started. */
  joined: boolean;
  /** How the output was made. */
  method: 'link' | 'copy';
  /**
   * Bytes this request's task stored, by transport (`{ dfdaemon: 1048576 }`, `{ source: … }`);
   * empty for a reuse or a join (nothing was transferred for this request).
   */
  transferredBy: Record<string, number>;
  /**
   * The connection count this download settled on and why (`connections: 2 (…)` in core.log), when
   * the count found itself; absent for a reuse, a joined request, a fixed `concurrency` or a push
   * transport.
   */
  connections?: { readonly count: number; readonly reason: string } | undefined;
  /** Wall time in ms, resolve included. */
  costMs: number;
}

/** A whole-artifact request: a {@link DownloadRequest} with a directory instead of a file. */
export interface ArtifactDownloadRequest extends Omit<
  DownloadRequest,
  'output' | 'digest' | 'onProgress' | 'resolved'
> {
  /** The directory the layers go into (created when missing, with the mode the umask gives). */
  outputDir: string;
  /** Progress over all layers together; called at a bounded rate, never awaited. */
  onProgress?: ((p: ArtifactProgress) => void) | undefined;
}

/** Progress of a whole-artifact pull. */
export interface ArtifactProgress {
  /** Index (in manifest order) of the layer being pulled. */
  readonly layer: number;
  /** Bytes of all layers done so far. */
  readonly transferred: number;
  /** Bytes of all layers. */
  readonly total: number;
}

/** A layer left out of a whole-artifact pull, and why. */
export interface SkippedLayer {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  readonly reason: string;
}

/** The outcome of a whole-artifact pull. */
export interface ArtifactDownloadResult {
  /** Absolute output directory. */
  outputDir: string;
  manifestDigest: string;
  manifestMediaType: string | undefined;
  artifactType: string | undefined;
  /** One result per layer pulled, in manifest order (`output` is the file written). */
  layers: DownloadResult[];
  /** Layers without a title, which `oras pull` skips too (they have no file name). */
  skipped: SkippedLayer[];
  /** Bytes of all layers pulled. */
  contentLength: number;
  /** Wall time in ms, resolve included. */
  costMs: number;
}
