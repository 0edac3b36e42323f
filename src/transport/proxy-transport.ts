/**
 * A pull transport through a Dragonfly daemon's HTTP proxy (default port 4001), in its
 * registry-mirror form: `GET <proxy>/v2/<repo>/blobs/<digest>` with `X-Dragonfly-Registry` naming
 * the origin and `X-Dragonfly-Use-P2P: true`, one ranged request per piece. The daemon answers from
 * its peers (or goes back to source once for the cluster); the conductor verifies every byte as it
 * does for the origin, and serves what the proxy cannot from the origin.
 *
 * @module
 */
import type { Readable } from 'node:stream';
import { daemonPieceSize } from '../core/piece-plan.js';
import type { Dispatcher } from 'undici';
import { DaemonError, RangeNotSupportedError } from '../core/errors.js';
import { daemonFailure, relayedStatusError } from './cluster-errors.js';
import { chunksOf, pumpChunks, type ChunkSink } from '../internal/chunks.js';
import { isSecretHeader, redact } from '../http/redact.js';
import { isLoopbackHost } from '../http/loopback.js';
import { agentClass, dispatcherRequest } from '../http/undici-modules.js';
import { nodeDefaultTrust } from '../http/tls-trust.js';
import type { ByteRange, SignalOptions } from '../core/types.js';
import type { PieceInfo } from '../core/piece-plan.js';
import type { Priority } from './dfdaemon/messages.js';
import type { PieceTransport, TransportTask } from './piece-transport.js';
import { resolveProxyOptions, type ProxyTransportOptions } from './proxy/options.js';

export { DEFAULT_PROXY_OPTIONS } from './proxy/options.js';
export type { ProxyTransportOptions } from './proxy/options.js';

/** The daemon proxy's request headers (dragonflyoss/client `dragonfly-client/src/proxy/header.rs`). */
export const DRAGONFLY_HEADERS = Object.freeze({
  registry: 'X-Dragonfly-Registry',
  useP2P: 'X-Dragonfly-Use-P2P',
  tag: 'X-Dragonfly-Tag',
  application: 'X-Dragonfly-Application',
  priority: 'X-Dragonfly-Priority',
  pieceLength: 'X-Dragonfly-Piece-Length',
  errorType: 'X-Dragonfly-Error-Type',
  taskId: 'X-Dragonfly-Task-ID',
});

const MiB = 2 ** 20;

/**
 * Reads pieces through a Dragonfly daemon's proxy. Pass it as `createDownloader({ transport })`.
 *
 * @example
 * ```ts
 * import os from 'node:os';
 * import path from 'node:path';
 * import { createDownloader, ProxyTransport } from 'orasfly';
 *
 * const transport = new ProxyTransport({ proxy: 'http://127.0.0.1:4001' });
 * const dl = await createDownloader({ storage: { dataPath: path.join(os.tmpdir(), 'orasfly-store') }, transport });
 * await dl.download({ url: 'oras://registry.example.com/lab/img:v1', output: path.join(os.tmpdir(), 'img.sif') });
 * await dl.close();
 * await transport.close();
 * ```
 */
export class ProxyTransport implements PieceTransport {
  readonly name = 'proxy';

  /** The daemon's own piece length for a blob (the plan follows it unless the user fixed one). */
  pieceSizeFor(contentLength: number): number {
    return daemonPieceSize(contentLength);
  }
  readonly backToSource: boolean;
  readonly #proxy: URL;
  readonly #priority: Priority | undefined;
  readonly #cleartextOk: boolean;
  readonly #dispatcher: Dispatcher;

  /**
   * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) for a bad option, e.g. a proxy
   * that is not an http(s) URL.
   */
  constructor(options: ProxyTransportOptions) {
    const o = resolveProxyOptions(options);
    this.#proxy = o.proxy;
    this.#priority = o.priority;
    this.backToSource = o.backToSource;
    this.#cleartextOk = o.allowCleartextCredentials || o.proxy.protocol === 'https:' || isLoopbackHost(o.proxy.host);
    // Bodies are watched by the conductor's low-speed rule; undici's own body timeout stays off.
    this.#dispatcher = new (agentClass())({
      headersTimeout: o.headersTimeout,
      bodyTimeout: 0,
      connections: 16,
      allowH2: false,
      ...(o.proxy.protocol === 'https:' && { connect: nodeDefaultTrust(o.nodeExtraCaLoaded) }),
    });
  }

  /** Closes the proxy connections. */
  async close(): Promise<void> {
    await this.#dispatcher.close();
  }

  /** The proxy serves ranges (it answers from the daemon's piece store). */
  async supportsRange(): Promise<boolean> {
    return true;
  }

  async readPiece(task: TransportTask, piece: PieceInfo, options: SignalOptions): Promise<AsyncIterable<Uint8Array>> {
    return chunksOf(await this.#open(task, piece.range, options));
  }

  async readSequential(task: TransportTask, options: SignalOptions): Promise<AsyncIterable<Uint8Array>> {
    return chunksOf(await this.#open(task, undefined, options));
  }

  /** {@inheritDoc PieceTransport.streamPiece} */
  async streamPiece(
    task: TransportTask,
    range: ByteRange | undefined,
    sink: ChunkSink,
    options: SignalOptions,
  ): Promise<void> {
    await pumpChunks(await this.#open(task, range, options), sink, options.signal);
  }

  /** The body of `range` (or of the whole blob), checked: `206` with the exact span, or `200`. */
  async #open(task: TransportTask, range: ByteRange | undefined, options: SignalOptions): Promise<Readable> {
    if (!range) {
      const res = await this.#get(task, {}, options);
      if (res.statusCode !== 200) {
        res.body.destroy();
        throw new DaemonError(`the daemon proxy answered ${res.statusCode} to a whole-blob request`);
      }
      return res.body;
    }
    const { start, length } = range;
    const res = await this.#get(task, { range: `bytes=${start}-${start + length - 1}` }, options);
    if (
      res.statusCode !== 206 ||
      res.headers['content-range'] !== `bytes ${start}-${start + length - 1}/${task.plan.contentLength}`
    ) {
      res.body.destroy();
      throw new RangeNotSupportedError(
        `the daemon proxy answered ${res.statusCode} (${String(res.headers['content-range'] ?? 'no Content-Range')}) to a range request`,
      );
    }
    return res.body;
  }

  async #get(
    task: TransportTask,
    extra: Record<string, string>,
    options: SignalOptions,
  ): Promise<Dispatcher.ResponseData> {
    if (!task.origin)
      throw this.#fail('the resource client cannot describe the blob request for a proxy (no blobRequest)');
    const origin = await task.origin.request({ signal: options.signal });
    const blob = new URL(origin.url);
    // Any credential header: the registry's Authorization, or one the user added (-H 'X-Auth-Token: …').
    const hasCredentials = Object.keys(origin.headers).some(isSecretHeader);
    if (hasCredentials && !this.#cleartextOk) {
      throw this.#fail(
        `not sending registry credentials to ${this.#proxy.origin} in clear text (not loopback, not HTTPS; set allowCleartextCredentials to allow it)`,
      );
    }
    const headers: Record<string, string> = {
      ...origin.headers,
      ...extra,
      [DRAGONFLY_HEADERS.registry]: `${blob.protocol}//${blob.host}`,
      [DRAGONFLY_HEADERS.useP2P]: 'true',
    };
    if (task.tag !== undefined) headers[DRAGONFLY_HEADERS.tag] = task.tag;
    if (task.application !== undefined) headers[DRAGONFLY_HEADERS.application] = task.application;
    if (this.#priority !== undefined) headers[DRAGONFLY_HEADERS.priority] = String(this.#priority);
    // Only a length the user fixed (the daemon's own makes the task id every other client makes);
    // the daemon takes lengths of at least 4 MiB, in a human-readable unit.
    const fixed = task.pieceLength;
    if (fixed !== undefined && fixed >= 4 * MiB && fixed % MiB === 0)
      headers[DRAGONFLY_HEADERS.pieceLength] = `${fixed / MiB}mib`;
    let res: Dispatcher.ResponseData;
    try {
      res = await dispatcherRequest(this.#dispatcher, {
        origin: this.#proxy.origin,
        path: `${blob.pathname}${blob.search}`,
        method: 'GET',
        headers,
        signal: options.signal,
      });
    } catch (e) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw this.#fail(
        `the daemon proxy ${this.#proxy.origin} failed: ${(e as { code?: string }).code ?? (e as Error).message}`,
        e,
      );
    }
    if (res.statusCode === 200 || res.statusCode === 206) return res;
    const kind = String(res.headers[DRAGONFLY_HEADERS.errorType.toLowerCase()] ?? '');
    const text = redact((await res.body.text().catch(() => '')).slice(0, 300));
    if (kind === 'backend' || kind === '') {
      // The origin's own answer, relayed (or a plain HTTP error from a non-Dragonfly proxy).
      throw relayedStatusError(
        {
          method: 'GET',
          url: redact(origin.url),
          status: res.statusCode,
          errors: [{ code: kind === 'backend' ? 'DFDAEMON_BACKEND' : 'PROXY_ERROR', message: text || undefined }],
        },
        kind === 'backend',
        this.backToSource,
      );
    }
    throw this.#fail(`the daemon proxy answered ${res.statusCode} (${kind} error)${text ? `: ${text}` : ''}`);
  }

  #fail(message: string, cause?: unknown): DaemonError {
    return daemonFailure(message, this.backToSource, { cause });
  }
}
