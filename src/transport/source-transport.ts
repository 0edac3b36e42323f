/**
 * The shipped transport: ranged reads straight from the origin through a {@link ResourceClient}.
 *
 * @module
 */
import type { ResourceClient } from '../source/resource-client.js';
import type { ByteRange, SignalOptions } from '../core/types.js';
import type { PieceInfo } from '../core/piece-plan.js';
import type { PieceTransport, StreamOptions, TransportTask } from './piece-transport.js';
import { chunksOf, pumpChunks, type ChunkSink } from '../internal/chunks.js';

/**
 * Reads pieces from the origin registry with `Range: bytes=a-b` (validated as `206` +
 * `Content-Range` by the client), or as one sequential stream when the origin ignores Range.
 *
 * @example
 * ```ts
 * import { OrasResourceClient, SourceTransport } from 'orasfly';
 *
 * const transport = new SourceTransport(new OrasResourceClient());
 * ```
 */
export class SourceTransport implements PieceTransport {
  readonly name = 'source';
  /** One GET of the whole blob beats a request per piece over one connection. */
  readonly wholeStreamPreferred = true;
  readonly #client: ResourceClient;

  constructor(client: ResourceClient) {
    this.#client = client;
  }

  async supportsRange(task: TransportTask, options: SignalOptions): Promise<boolean> {
    return this.#client.supportsRange(task.target, { signal: options.signal, headers: task.headers });
  }

  async readPiece(task: TransportTask, piece: PieceInfo, options: SignalOptions): Promise<AsyncIterable<Uint8Array>> {
    const r = await this.#client.read(task.target, piece.range, { signal: options.signal, headers: task.headers });
    return chunksOf(r.body);
  }

  async streamPiece(
    task: TransportTask,
    range: ByteRange | undefined,
    sink: ChunkSink,
    options: StreamOptions,
  ): Promise<void> {
    if (this.#client.stream)
      return this.#client.stream(task.target, range, sink, {
        signal: options.signal,
        headers: task.headers,
        memory: options.memory,
      });
    const r = await this.#client.read(task.target, range, { signal: options.signal, headers: task.headers });
    await pumpChunks(r.body, sink, options.signal);
  }

  async readSequential(task: TransportTask, options: SignalOptions): Promise<AsyncIterable<Uint8Array>> {
    const r = await this.#client.read(task.target, undefined, { signal: options.signal, headers: task.headers });
    return chunksOf(r.body);
  }
}
