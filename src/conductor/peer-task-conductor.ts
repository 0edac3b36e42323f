/**
 * One task's download, as a lifecycle: `created → running → completing → succeeded | failed`.
 * Pieces come from a push transport (`drive`) and then, for whatever is missing, from a pull
 * transport (`schedule.ts`), the origin serving what a cluster did not (`fallback.ts`); each piece is assembled and digested (`piece-assembler.ts`), progress is
 * metered (`progress.ts`), and the task succeeds only when the whole blob matches its digest
 * (`blob-verifier.ts`).
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import path from 'node:path';
import {
  DaemonError,
  DigestMismatchError,
  InvalidArgumentError,
  OrasflyError,
  StorageError,
  StorageQuotaError,
  TaskFailedError,
} from '../core/errors.js';
import { abortableIterable, raceSignal } from '../internal/abort.js';
import type { BackoffPolicy } from '../internal/retry.js';
import { CoreLogger } from '../log/core-log.js';
import { dragonflyCode, logTaskFailure } from '../log/task-failure.js';
import type { BlobTarget, OriginRequest } from '../source/resource-client.js';
import type { SignalOptions } from '../core/types.js';
import type { TaskEntry } from '../storage/entry.js';
import { pieceAt, type PieceInfo, type PiecePlan } from '../core/piece-plan.js';
import type { TaskWriter } from '../storage/task-writer.js';
import type { PieceSink, PieceTransport, ReportedDigests, TransportTask } from '../transport/piece-transport.js';
import { BlobVerifier } from './blob-verifier.js';
import type { RateLimiter } from './rate-limiter.js';
import type { PieceDigestAlgorithm } from '../storage/options.js';
import type { ConductorEvents, ConductorState } from './events.js';
import { resolveConductorOptions, type ConductorOptions, type ResolvedConductorOptions } from './options.js';
import { PieceAssembler } from './piece-assembler.js';
import { ChunkPool } from '../internal/chunk-pool.js';
import { ProgressMeter } from './progress.js';
import { pullPieces, type PieceSite } from './schedule.js';
import { deliverPieces } from './fallback.js';
import { adoptWholeFile } from './whole-file-check.js';
import { monotonicMs } from '../internal/clock.js';

export {
  DEFAULT_CONCURRENCY,
  DEFAULT_CONDUCTOR_OPTIONS,
  DEFAULT_LOW_SPEED_LIMIT,
  DEFAULT_LOW_SPEED_TIME,
} from './options.js';
export type { ConductorOptions, ResolvedConductorOptions } from './options.js';
export type { ConductorEvents, ConductorState, PieceEvent, ProgressEvent, RetryEvent } from './events.js';

const debug = createDebug('orasfly:conductor');

/** What a conductor needs to run. */
export interface ConductorInit {
  taskId: string;
  peerId: string;
  target: BlobTarget;
  plan: PiecePlan;
  /** The store's writer for this task (holds the task lock). */
  writer: TaskWriter;
  /** Where pieces come from. */
  transport: PieceTransport;
  /** Used for pieces a push transport did not deliver (normally the origin). */
  fallbackTransport?: PieceTransport | undefined;
  headers?: Record<string, string> | undefined;
  /** The request's tag and application, for transports whose cluster task ids include them. */
  tag?: string | undefined;
  application?: string | undefined;
  /** The piece length the user fixed (a cluster transport sends it), if any. */
  pieceLength?: number | undefined;
  /** The store's piece digest algorithm (`StorageManager.options.pieceDigest`). @defaultValue 'crc32' */
  pieceDigest?: PieceDigestAlgorithm | undefined;
  /** A limiter shared by every piece of every task (the manager's `totalRateLimit`). */
  rateLimiter?: RateLimiter | undefined;
  /** How a transport asks the origin's URL and headers for this blob (`ResourceClient.blobRequest`). */
  origin?: ((options?: SignalOptions) => Promise<OriginRequest>) | undefined;
  logger?: CoreLogger | undefined;
  options?: ConductorOptions | undefined;
}

/**
 * Downloads one task. Create it with a store writer and a transport, call {@link PeerTaskConductor.run},
 * and listen to its events. Usually created by `PeerTaskManager`, which also handles reuse, joining
 * and outputs.
 *
 * States: `created → running → completing → succeeded | failed`; exactly one terminal outcome.
 *
 * @example
 * ```ts
 * import os from 'node:os';
 * import path from 'node:path';
 * import { OrasResourceClient, PeerTaskConductor, SourceTransport, StorageManager, type TaskEntry } from 'orasfly';
 * import { peerId, planPieces, taskId } from 'orasfly/dragonfly';
 *
 * const client = new OrasResourceClient();
 * const store = await StorageManager.open({ dataPath: path.join(os.tmpdir(), 'orasfly-store') });
 * const output = path.join(os.tmpdir(), 'img.sif');
 * // The blob: from the registry. The ids: Dragonfly's rules over the resolved URL and digest.
 * const target = await client.resolve('oras://127.0.0.1:5000/lab/img:v1');
 * const id = taskId(target.resolvedUrl, { digest: target.digest });
 * const peer = peerId();
 * // The piece plan: Dragonfly's piece size for this length (or pass your own).
 * const plan = planPieces(target.size);
 * // The writer: the store's, under the task lock. A completed entry is reused instead.
 * const begun = await store.beginTask({ taskId: id, peerId: peer, digest: target.digest, contentLength: target.size, pieceSize: plan.pieceSize, output });
 * let entry: TaskEntry;
 * if ('reuse' in begun) entry = begun.reuse;
 * else {
 *   // The transport: the origin through the client (or a mirror, a Dragonfly daemon, your own).
 *   const conductor = new PeerTaskConductor({ taskId: id, peerId: peer, target, plan, writer: begun.writer, transport: new SourceTransport(client) });
 *   conductor.on('progress', (p) => console.log(`${p.percent}%`));
 *   // Cancel with an AbortSignal: partial data stays for resume, the output is never touched.
 *   entry = await conductor.run({ signal: AbortSignal.timeout(10 * 60_000) });
 * }
 * await store.materialize(entry, output);
 * await store.close();
 * await client.close();
 * ```
 */
export class PeerTaskConductor extends EventEmitter<ConductorEvents> implements PieceSink {
  readonly taskId: string;
  readonly peerId: string;
  readonly target: BlobTarget;
  readonly plan: PiecePlan;
  readonly options: ResolvedConductorOptions;
  readonly #writer: TaskWriter;
  readonly #transport: PieceTransport;
  readonly #fallback: PieceTransport | undefined;
  readonly #headers: Record<string, string> | undefined;
  readonly #init: ConductorInit;
  readonly #log: CoreLogger;
  /** Bytes stored per transport name (`dfdaemon`, `source`, …). */
  readonly #bytesBy: Record<string, number> = {};
  /** Name of the pull transport in use (pieces it delivers are counted under it). */
  #pullName = 'source';
  readonly #done = new Set<number>();
  readonly #inflight = new Set<number>();
  readonly #controller = new AbortController();
  readonly #meter: ProgressMeter;
  #state: ConductorState = 'created';
  /** Pieces 0..contiguous-1 are stored. */
  #contiguous = 0;
  #verifier: BlobVerifier | undefined;
  /** Body memory of this task's streams: a few reused buffers instead of one per socket read. */
  readonly #memory = new ChunkPool();
  #startedAt = 0;
  #outcome: Promise<TaskEntry> | undefined;
  #connections: { count: number; reason: string } | undefined;

  constructor(init: ConductorInit) {
    super();
    this.taskId = init.taskId;
    this.peerId = init.peerId;
    this.target = init.target;
    this.plan = init.plan;
    this.options = resolveConductorOptions(init.options);
    this.#writer = init.writer;
    this.#transport = init.transport;
    this.#fallback = init.fallbackTransport;
    this.#headers = init.headers;
    this.#init = init;
    this.#log = (init.logger ?? new CoreLogger(undefined)).with(
      { peer: init.peerId, task: init.taskId, component: 'PeerTask' },
      'conductor/peer-task-conductor.ts',
    );
    this.#meter = new ProgressMeter(init.taskId, init.plan.contentLength, this.options.progressInterval, (p) =>
      this.emit('progress', p),
    );
    for (const [num] of this.#writer.pieces) if (num < this.plan.totalPieces) this.#done.add(num);
  }

  /** The current state. */
  get state(): ConductorState {
    return this.#state;
  }

  /** Bytes verified and stored so far. */
  get transferred(): number {
    return this.#meter.stored;
  }

  /**
   * The connection count the task settled on and why, when it found itself (`concurrency` unset);
   * `undefined` for a fixed count or a push transport.
   */
  get connections(): { readonly count: number; readonly reason: string } | undefined {
    return this.#connections;
  }

  /** Bytes stored so far by each transport, by name (`{ dfdaemon: 1048576, source: 0 }`). */
  get bytesByTransport(): Readonly<Record<string, number>> {
    return { ...this.#bytesBy };
  }

  /** Piece numbers not yet stored. */
  missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.plan.totalPieces; i++) if (!this.#done.has(i)) out.push(i);
    return out;
  }

  /**
   * Runs the download once; later calls return the same outcome. `signal` aborts the task (verified
   * pieces stay in the store for a later resume) and the promise rejects with its reason.
   * @throws DigestMismatchError (`ERR_ORASFLY_DIGEST_MISMATCH`) when the blob does not match its digest.
   * @throws TaskFailedError (`ERR_ORASFLY_TASK_FAILED`) when a piece keeps failing or the lock cannot be had.
   * @throws StorageError, StorageQuotaError, DaemonError (the store, a full disk, a daemon) as they come.
   */
  run(options: SignalOptions = {}): Promise<TaskEntry> {
    this.#outcome ??= this.#run(options.signal);
    return this.#outcome;
  }

  /** Aborts the task (same as aborting the signal given to `run`). */
  abort(reason: unknown = new DOMException('The operation was aborted', 'AbortError')): void {
    this.#controller.abort(reason);
  }

  #setState(s: ConductorState): void {
    this.#state = s;
    this.emit('state', s);
  }

  async #run(outer: AbortSignal | undefined): Promise<TaskEntry> {
    const signal = this.#controller.signal;
    const onOuterAbort = () => this.#controller.abort(outer!.reason);
    if (outer?.aborted) onOuterAbort();
    else outer?.addEventListener('abort', onOuterAbort, { once: true });
    this.#startedAt = monotonicMs();
    this.#setState('running');
    debug(
      'task %s start: %d bytes, %d pieces of %d, %d already stored',
      this.taskId,
      this.plan.contentLength,
      this.plan.totalPieces,
      this.plan.pieceSize,
      this.#done.size,
    );
    try {
      // One in-order stream is hashed as it is written (no worker, no read-back); several connections
      // complete pieces out of order, so a worker hashes the prefix back from the page cache.
      // Segments (a streaming pull transport, any count) hash the first one in order as it is written
      // and read the others back from the page cache as the prefix reaches them: no worker thread
      // (its heap cost ~15 MiB of RSS). Pieces pushed in any order (a daemon) are hashed on a worker.
      const c = this.options.concurrency;
      const useWorker = this.options.hashOnWorker ?? (this.#transport.streamPiece || c === 1 ? false : undefined);
      this.#verifier = new BlobVerifier(this.#writer.dataFilePath, this.plan.contentLength, this.target.digest, {
        useWorker,
        memory: this.#memory,
      });
      for (const n of this.#done) this.#meter.addStored(pieceAt(this.plan, n).range.length);
      this.#advanceContiguous();
      const task = this.#transportTask();
      await deliverPieces(
        this.#transport,
        this.#fallback,
        task,
        this,
        {
          taskId: this.taskId,
          totalPieces: this.plan.totalPieces,
          missing: () => this.plan.totalPieces - this.#done.size,
          pull: (pull) => {
            this.#pullName = pull.name;
            return pullPieces(this.#site, pull, task, signal);
          },
          onFallback: (name, e) => {
            debug('task %s: transport %s failed (%s), falling back', this.taskId, name, (e as Error).message);
            this.#warnFallback(name, e);
          },
        },
        signal,
      );

      this.#setState('completing');
      const actual = await raceSignal(this.#verifier.result(), signal);
      if (actual !== this.target.digest) throw new DigestMismatchError(this.target.digest, actual, 'blob');
      const costMs = Math.round(monotonicMs() - this.#startedAt);
      // Dragonfly logs this before persisting metadata; users grep for it.
      this.#log.info(`peer task done, cost: ${costMs}ms`);
      const entry = await this.#writer.complete({ digest: actual });
      this.#meter.end();
      this.#setState('succeeded');
      this.emit('done', { taskId: this.taskId, entry, costMs });
      return entry;
    } catch (caught) {
      // Aborts keep their reason; everything else surfaces as a task failure carrying its cause.
      const error = signal.aborted && caught === signal.reason ? caught : this.#asTaskError(caught);
      await this.#fail(error);
      throw error;
    } finally {
      outer?.removeEventListener('abort', onOuterAbort);
      this.#meter.stop();
    }
  }

  /** Says in core.log why the origin now serves the pieces a transport did not deliver. */
  #warnFallback(transport: string, e: unknown): void {
    const missing = this.plan.totalPieces - this.#done.size;
    this.#log.warn(
      `transport ${transport} failed, back to source for ${missing} of ${this.plan.totalPieces} pieces: ${(e as Error).message}`,
    );
  }

  #transportTask(): TransportTask {
    const i = this.#init;
    const log = this.#log.with({ component: 'Transport' });
    return {
      taskId: this.taskId,
      peerId: this.peerId,
      target: this.target,
      plan: this.plan,
      headers: this.#headers,
      tag: i.tag,
      application: i.application,
      pieceLength: i.pieceLength,
      origin: i.origin ? { request: (o?: SignalOptions) => i.origin!({ ...o }) } : undefined,
      scratchDir: path.dirname(this.#writer.dataFilePath),
      log: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
    };
  }

  async #fail(error: unknown): Promise<void> {
    if (!this.#controller.signal.aborted) this.#controller.abort(error);
    await this.#verifier?.close();
    const costMs = Math.round(monotonicMs() - this.#startedAt);
    logTaskFailure(this.#log, error);
    try {
      // Verified pieces stay as a resumable entry (the next pull fetches only what is missing; GC
      // collects it after taskExpireTime untouched), whatever stopped the task: an error, a timeout,
      // a cancellation. Two exceptions: a digest mismatch (which piece is wrong cannot be told), and
      // a full store (keeping the bytes that filled it would fail the next pull of anything). An
      // entry without a verified piece has nothing to resume, and nothing partial stays beside the
      // user's output (the advance strategy's data file).
      const keepForResume =
        this.#writer.pieces.size > 0 &&
        this.#writer.dataInStore !== false &&
        !(error instanceof DigestMismatchError || error instanceof StorageQuotaError);
      await this.#writer.abort({ keepForResume });
    } catch (e) {
      debug('task %s: cleanup after failure failed: %s', this.taskId, (e as Error).message);
    }
    this.#setState('failed');
    this.emit('failed', { taskId: this.taskId, error, costMs });
  }

  #asTaskError(e: unknown): unknown {
    // Errors that name their own cause precisely (bad bytes, full disk, store failure) stay as they are.
    if (
      e instanceof DigestMismatchError ||
      e instanceof TaskFailedError ||
      e instanceof StorageQuotaError ||
      e instanceof StorageError ||
      e instanceof DaemonError
    )
      return e;
    if (this.#controller.signal.aborted && e === this.#controller.signal.reason && !(e instanceof OrasflyError))
      return e;
    const reason = e instanceof Error ? e.message : String(e);
    return new TaskFailedError(this.taskId, dragonflyCode(e), reason, { cause: e });
  }

  /** The scheduler's view of this task. */
  get #site(): PieceSite {
    const o = this.options;
    // Piece retries back off like registry requests, with their own bounds (±20 % jitter).
    const backoff: BackoffPolicy = {
      minDelay: o.retryMinDelay,
      maxDelay: o.retryMaxDelay,
      factor: 2,
      jitter: 0.2,
      maxRetryAfter: 0,
    };
    return {
      taskId: this.taskId,
      plan: this.plan,
      concurrency: o.concurrency,
      maxConcurrency: o.maxConcurrency,
      onConnections: (count, reason) => {
        this.#connections = { count, reason };
        this.#log.info(`connections: ${count} (${reason})`);
      },
      attempts: o.pieceRetries,
      backoff,
      lowSpeedLimit: o.lowSpeedLimit,
      lowSpeedTime: o.lowSpeedTime,
      has: (num) => this.#done.has(num),
      storedCount: () => this.#done.size,
      // The scheduler's bodies already end on its signal (StallWatch.count): no second wrapper per chunk.
      writePiece: (num, body, opts) => this.#writeBody(num, body, opts.signal, this.#pullName),
      memory: this.#memory,
      assembler: (piece, signal) => this.#assembler(piece, signal),
      commit: (a) => this.#commit(a, this.#pullName),
      onRetry: (e) => this.emit('retry', e),
    };
  }

  #assembler(piece: PieceInfo, signal: AbortSignal, reported?: string): PieceAssembler {
    return new PieceAssembler(piece, {
      reported,
      writer: this.#writer,
      pieceDigest: this.#init.pieceDigest ?? 'crc32',
      verifier: this.#verifier,
      meter: this.#meter,
      limiter: this.#init.rateLimiter,
      memory: this.#memory,
      signal,
    });
  }

  /** Records an assembled piece (unless another source stored it meanwhile). */
  async #commit(a: PieceAssembler, via: string, reported?: string): Promise<void> {
    const { digest, costMs } = await a.end(reported);
    if (!this.#done.has(a.piece.num)) this.#record(a.piece, digest, costMs, via);
  }

  #record(piece: PieceInfo, digest: string, costMs: number, via: string): void {
    this.#bytesBy[via] = (this.#bytesBy[via] ?? 0) + piece.range.length;
    this.#writer.recordPiece({ num: piece.num, range: piece.range, digest, cost: Math.round(costMs * 1e6) });
    this.#done.add(piece.num);
    this.#advanceContiguous();
    this.emit('piece', {
      taskId: this.taskId,
      num: piece.num,
      start: piece.range.start,
      length: piece.range.length,
      digest,
      costMs,
    });
  }

  /** {@inheritDoc PieceSink.adoptFile} */
  adoptFile(file: string, reported: ReportedDigests, options: SignalOptions = {}): Promise<boolean> {
    const busy = () => this.#done.size > 0 || this.#inflight.size > 0;
    const adopted = (blob: string, digests: readonly string[]) => {
      this.#verifier?.hashedWhole(blob);
      for (const [num, digest] of digests.entries()) {
        this.#record(pieceAt(this.plan, num), digest, 0, this.#transport.name);
        this.#meter.pieceStored(pieceAt(this.plan, num).range.length, 0);
      }
    };
    const [log, pieceDigest] = [this.#log.with({ component: 'Transport' }), this.#init.pieceDigest ?? 'crc32'];
    const site = { plan: this.plan, writer: this.#writer, digest: this.target.digest, busy, adopted, log, pieceDigest };
    return adoptWholeFile(file, reported, site, options.signal ?? this.#controller.signal);
  }

  /** {@inheritDoc PieceSink.writePiece} */
  writePiece(
    num: number,
    body: AsyncIterable<Uint8Array>,
    options: SignalOptions & { digest?: string | undefined } = {},
  ): Promise<void> {
    const signal = options.signal ?? this.#controller.signal;
    // A push transport's body that ignores signals still ends when the task is cancelled.
    return this.#writeBody(num, abortableIterable(body, signal), signal, this.#transport.name, options.digest);
  }

  /** Stores piece `num` from a body that ends when `signal` aborts (refused if it differs from `reported`). */
  async #writeBody(
    num: number,
    body: AsyncIterable<Uint8Array>,
    signal: AbortSignal,
    via: string,
    reported?: string,
  ): Promise<void> {
    if (!Number.isInteger(num) || num < 0 || num >= this.plan.totalPieces)
      throw new InvalidArgumentError('piece', `no piece ${num} in a task of ${this.plan.totalPieces}`);
    if (this.#done.has(num) || this.#inflight.has(num)) {
      // Another source already has it: drain so the sender can go on.
      for await (const _ of body) void _;
      return;
    }
    this.#inflight.add(num);
    const a = this.#assembler(pieceAt(this.plan, num), signal, reported);
    try {
      for await (const chunk of body) {
        const wait = a.push(chunk);
        if (wait) await wait;
      }
      await this.#commit(a, via, reported);
    } finally {
      a.release();
      this.#inflight.delete(num);
    }
  }

  #advanceContiguous(): void {
    const before = this.#contiguous;
    while (this.#contiguous < this.plan.totalPieces && this.#done.has(this.#contiguous)) this.#contiguous++;
    if (this.#contiguous !== before || before === 0) {
      const end =
        this.#contiguous >= this.plan.totalPieces ? this.plan.contentLength : this.#contiguous * this.plan.pieceSize;
      this.#verifier?.advance(end);
    }
  }
}
