/**
 * Where piece bytes come from. The conductor owns scheduling for *pull* transports (it asks for
 * piece i, under its concurrency bound); a *push* transport, like a Dragonfly daemon that decides
 * its own piece order, drives the schedule itself through a {@link PieceSink}. Either way every
 * byte passes through the conductor's verification before it counts.
 *
 * @module
 */
import type { BlobTarget, OriginRequest } from '../source/resource-client.js';
import type { ByteRange, SignalOptions } from '../core/types.js';
import type { PieceInfo, PiecePlan } from '../core/piece-plan.js';
import type { BodyMemory, ChunkSink } from '../internal/chunks.js';

export type { BodyMemory, ChunkSink } from '../internal/chunks.js';

/** Options of {@link PieceTransport.streamPiece}. */
export interface StreamOptions extends SignalOptions {
  /**
   * Memory the body may be read into instead of buffers of the transport's own: the sink keeps
   * views of it only until their bytes are stored, and the buffers are reused (no garbage per read).
   */
  memory?: BodyMemory | undefined;
}

/** What a transport knows about the task it serves. */
export interface TransportTask {
  readonly taskId: string;
  readonly peerId: string;
  /** The blob: URL, digest, size, media type. */
  readonly target: BlobTarget;
  readonly plan: PiecePlan;
  /** Request headers the user passed (never logged). */
  readonly headers?: Record<string, string> | undefined;
  /** The request's tag and application (dfget `--tag`, `--application`): part of a cluster's task id. */
  readonly tag?: string | undefined;
  /**
   * The piece length the user fixed, if any: a cluster transport sends it (and it is then part of the
   * cluster's task id). Unset, the cluster picks its own and `plan` already follows it
   * ({@link PieceTransport.pieceSizeFor}), so every client of the cluster makes one task of the URL.
   */
  readonly pieceLength?: number | undefined;
  readonly application?: string | undefined;
  /**
   * How another downloader reaches the origin for this blob: its URL and headers (`Authorization`
   * included, fresh). Set when the resource client can say (`ResourceClient.blobRequest`).
   */
  readonly origin?: { request(options?: SignalOptions): Promise<OriginRequest> } | undefined;
  /** A directory on the store's filesystem where the transport may put temporary files. */
  readonly scratchDir?: string | undefined;
  /** The task's log (core.log): what a transport did and why it gave up. */
  readonly log?: TransportLog | undefined;
}

/** Where a transport says what it did (the task's core.log). */
export interface TransportLog {
  info(message: string): void;
  warn(message: string): void;
}

/** What a sender reports of each piece (number → digest), or a promise of it while it still streams. */
export type ReportedDigests = ReadonlyMap<number, string> | PromiseLike<ReadonlyMap<number, string>>;

/** Receives pieces from a push transport, in any order. */
export interface PieceSink {
  /** Piece numbers not yet verified and stored. */
  missing(): number[];
  /**
   * Stores piece `num` from `body`, which must yield exactly the piece's bytes. Resolves once the
   * piece is written and recorded; rejects (and forgets the partial piece) on a short or long body.
   * A piece that is already stored is drained and ignored. With `digest` (what the sender reports
   * for the piece, e.g. a daemon's `crc32:…`), bytes that hash otherwise are refused with
   * `DigestMismatchError` and the piece stays missing (the origin then serves it).
   */
  writePiece(
    num: number,
    body: AsyncIterable<Uint8Array>,
    options?: SignalOptions & { digest?: string | undefined },
  ): Promise<void>;
  /**
   * Takes `file` — the whole blob, in the store's directory (`TransportTask.scratchDir`) — into the
   * store instead of copying it: moved (renamed) to be the task's data file, so a hard link from a
   * daemon's cache stays one. Only when no piece is stored yet, and only after one read of it
   * matched every piece against `reported` (piece number → the digest its sender reports) and the
   * whole blob against its digest. Resolves `true` when every piece is then stored; `false` when
   * nothing changed (pieces already stored, a mismatch, another filesystem): feed the pieces to
   * {@link PieceSink.writePiece} instead, which refuses just the bad ones. `reported` may be a
   * promise (the sender still streaming): the file is read meanwhile, and taken only once it
   * resolves; a rejection takes nothing.
   */
  adoptFile?(file: string, reported: ReportedDigests, options?: SignalOptions): Promise<boolean>;
}

/**
 * A source of piece bytes.
 *
 * Implement `readPiece` for a pull transport. Implement `drive` for a push transport; the
 * conductor calls it once and then fetches whatever is still missing through its fallback
 * transport (the origin), so a failing cluster never fails a pull that the origin can serve.
 *
 * @example
 * ```ts
 * import os from 'node:os';
 * import path from 'node:path';
 * import { createDownloader, OrasResourceClient, SourceTransport, type PieceInfo, type PieceTransport, type SignalOptions, type TransportTask } from 'orasfly';
 *
 * // A pull transport that reads pieces from a mirror registry holding the same blobs. The task
 * // (blob URL, digest, size, plan) comes from the conductor; the piece number and range from the plan.
 * class MirrorTransport implements PieceTransport {
 *   readonly name = 'mirror';
 *   readonly #mirror = new OrasResourceClient();
 *   readonly #source = new SourceTransport(this.#mirror);
 *   #onMirror(task: TransportTask): TransportTask {
 *     return { ...task, target: { ...task.target, url: task.target.url.replace('//registry.example.com/', '//mirror.example.com/') } };
 *   }
 *   supportsRange(task: TransportTask, o: SignalOptions): Promise<boolean> {
 *     return this.#source.supportsRange(this.#onMirror(task), o);
 *   }
 *   readPiece(task: TransportTask, piece: PieceInfo, o: SignalOptions): Promise<AsyncIterable<Uint8Array>> {
 *     return this.#source.readPiece(this.#onMirror(task), piece, o);
 *   }
 * }
 *
 * // Every byte is still checked (piece lengths, the blob's sha256); the origin serves what the mirror cannot.
 * const dl = await createDownloader({ storage: { dataPath: path.join(os.tmpdir(), 'orasfly-store') }, transport: new MirrorTransport() });
 * await dl.download({ url: 'oras://registry.example.com/lab/img:v1', output: path.join(os.tmpdir(), 'img.sif') });
 * await dl.close();
 * ```
 */
export interface PieceTransport {
  /** Short name for logs, e.g. `source`, `dfdaemon`. */
  readonly name: string;
  /**
   * Bytes of exactly this piece. Throws `RangeNotSupportedError` when the origin cannot serve
   * ranges; the conductor then switches to {@link PieceTransport.readSequential}.
   */
  readPiece?(task: TransportTask, piece: PieceInfo, options: SignalOptions): Promise<AsyncIterable<Uint8Array>>;
  /** The whole blob as one stream from byte 0 (the no-Range fallback). */
  readSequential?(task: TransportTask, options: SignalOptions): Promise<AsyncIterable<Uint8Array>>;
  /**
   * The fast path of a pull transport: pushes the bytes of `range` (a piece, or a run of pieces) —
   * or, with `range` undefined, of the whole blob from byte 0 — into `sink` as they arrive, waiting
   * while `sink` returns a promise, and resolves once the body has ended. The conductor may stop
   * reading before the end (a split segment): the signal, or an error thrown by `sink`, ends it. No async iterator, promise or abort listener per chunk:
   * at 64 KiB socket chunks (16 KiB TLS records) those were a large share of a pull's CPU. When
   * present, the conductor uses it instead of {@link readPiece} and {@link readSequential}; the same
   * rules apply (`RangeNotSupportedError` for a lost range, the signal ends the body).
   */
  streamPiece?(
    task: TransportTask,
    range: ByteRange | undefined,
    sink: ChunkSink,
    options: StreamOptions,
  ): Promise<void>;
  /**
   * `readSequential` is the cheapest way to fetch a whole blob over one connection (an origin: no
   * round trip between pieces). The conductor then uses it for a fresh task with concurrency 1.
   */
  readonly wholeStreamPreferred?: boolean;
  /**
   * The piece length the transport's peers pick for a blob of `contentLength` when the request
   * names none (a Dragonfly daemon's rule). The task's plan follows it unless the user fixed one.
   */
  pieceSizeFor?(contentLength: number): number;
  /** Whether ranged reads work for this task (probed once). Pull transports only. */
  supportsRange?(task: TransportTask, options: SignalOptions): Promise<boolean>;
  /**
   * Push mode: deliver pieces through `sink` in the transport's own order; resolve when done. A
   * rejection means "could not serve": the conductor fetches what is missing from the origin, unless
   * the error's `final` is `true` (the origin's own answer, such as a 404 relayed by a
   * daemon), which fails the task.
   */
  drive?(task: TransportTask, sink: PieceSink, options: SignalOptions): Promise<void>;
  /**
   * `false`: never fetch from the origin for this transport's tasks (dfget's
   * `--disable-back-to-source`): whatever it leaves undone, or serves wrong, fails the task.
   * @defaultValue true
   */
  readonly backToSource?: boolean;
  /** Releases connections. Called by whoever created the transport. */
  close?(): Promise<void>;
}
