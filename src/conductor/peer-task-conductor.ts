/**
 * One task's download: plan pieces, fetch them concurrently through a {@link PieceTransport},
 * write and digest each piece as it arrives, hash the blob's contiguous prefix on a worker thread,
 * and declare success only when the whole blob matches its digest.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import pLimit from 'p-limit';
import createDebug from 'debug';
import {
  DigestMismatchError,
  OrasflyError,
  RangeNotSupportedError,
  SizeMismatchError,
  InvalidArgumentError,
  StorageError,
  StorageQuotaError,
  TaskFailedError,
} from '../errors.js';
import type { BlobTarget, SignalOptions } from '../source/resource-client.js';
import type { PieceSink, PieceTransport, TransportTask } from '../transport/piece-transport.js';
import { pieceAt, type PieceInfo, type PiecePlan } from '../storage/piece-plan.js';
import { BlobVerifier } from './blob-verifier.js';
import { RateLimiter } from './rate-limiter.js';
import { StallWatch } from './stall-watch.js';
import { DEFAULT_CONCURRENCY, DEFAULT_LOW_SPEED_LIMIT, DEFAULT_LOW_SPEED_TIME } from './conductor-defaults.js';
import { CoreLogger } from '../log/core-log.js';
import { abortableDelay, raceSignal } from '../internal/abort.js';
import { createPieceHasher } from '../storage/piece-digest.js';
import type { PieceDigestAlgorithm } from '../storage/options.js';
import type { TaskEntry, TaskWriter } from '../storage/storage-manager.js';

const debug = createDebug('orasfly:conductor');

export { DEFAULT_CONCURRENCY, DEFAULT_LOW_SPEED_LIMIT, DEFAULT_LOW_SPEED_TIME } from './conductor-defaults.js';

/** Options of a {@link PeerTaskConductor}. */
export interface ConductorOptions {
  /** Parallel piece downloads. @defaultValue {@link DEFAULT_CONCURRENCY} */
  concurrency?: number;
  /** Piece size in bytes; default: Dragonfly's table (4–15 MiB by content length). */
  pieceSize?: number | undefined;
  /** Attempts per piece before the task fails (the client also retries each request). @defaultValue 5 */
  pieceRetries?: number;
  /** First backoff between piece attempts, ms (doubles, with jitter). @defaultValue 200 */
  retryMinDelay?: number;
  /** Longest backoff between piece attempts, ms. @defaultValue 3000 */
  retryMaxDelay?: number;
  /** Shared limiter for all pieces (see `totalRateLimit` of the manager). */
  rateLimiter?: RateLimiter | undefined;
  /** Minimum ms between `progress` events. @defaultValue 100 */
  progressInterval?: number;
  /** Piece digest algorithm (the store's). @defaultValue `'crc32'` */
  pieceDigest?: PieceDigestAlgorithm;
  /** Hash the blob on a worker thread; default: for blobs of 32 MiB and more. */
  hashOnWorker?: boolean | undefined;
  /**
   * Low-speed rule, bytes per second: a piece attempt (or the sequential stream) that receives fewer
   * than `lowSpeedLimit × lowSpeedTime` bytes in any window of `lowSpeedTime` — headers that never
   * come included — is aborted and retried, then fails the task. `0` = off. @defaultValue 1024
   */
  lowSpeedLimit?: number;
  /** The window of the low-speed rule, ms. `0` = off. @defaultValue 30000 */
  lowSpeedTime?: number;
}

/** Exported defaults of {@link ConductorOptions}. */
export const DEFAULT_CONDUCTOR_OPTIONS = Object.freeze({
  concurrency: DEFAULT_CONCURRENCY,
  pieceRetries: 5,
  retryMinDelay: 200,
  retryMaxDelay: 3000,
  progressInterval: 100,
  pieceDigest: 'crc32' as PieceDigestAlgorithm,
  lowSpeedLimit: DEFAULT_LOW_SPEED_LIMIT,
  lowSpeedTime: DEFAULT_LOW_SPEED_TIME,
});

/** States of a conductor; `succeeded` and `failed` are terminal. */
export type ConductorState = 'created' | 'running' | 'completing' | 'succeeded' | 'failed';

/** A `progress` event: bytes verified and stored so far. Monotonic; the last one has `percent: 100`. */
export interface ProgressEvent {
  taskId: string;
  transferred: number;
  total: number;
  percent: number;
}

/** A `piece` event. */
export interface PieceEvent {
  taskId: string;
  num: number;
  start: number;
  length: number;
  digest: string;
  costMs: number;
}

/** A `retry` event: a piece attempt failed and will be tried again. */
export interface RetryEvent {
  taskId: string;
  num: number | 'sequential';
  attempt: number;
  delayMs: number;
  error: unknown;
}

/** Events of a {@link PeerTaskConductor}. */
export interface ConductorEvents {
  state: [state: ConductorState];
  piece: [event: PieceEvent];
  progress: [event: ProgressEvent];
  retry: [event: RetryEvent];
  done: [event: { taskId: string; entry: TaskEntry; costMs: number }];
  failed: [event: { taskId: string; error: unknown; costMs: number }];
}

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
  logger?: CoreLogger | undefined;
  options?: ConductorOptions | undefined;
}

/** Dragonfly's code for a failure: 4008 (back-source error) for a registry answer, else 4000. */
function dragonflyCode(e: unknown): number {
  return e instanceof OrasflyError && e.code === 'ERR_ORASFLY_REGISTRY_RESPONSE' ? 4008 : 4000;
}

/** Errors that another attempt cannot fix. */
function isPermanent(e: unknown): boolean {
  if (!(e instanceof OrasflyError)) return false;
  switch (e.code) {
    case 'ERR_ORASFLY_NETWORK':
    case 'ERR_ORASFLY_TIMEOUT':
    case 'ERR_ORASFLY_SIZE_MISMATCH':
      return false;
    case 'ERR_ORASFLY_REGISTRY_RESPONSE': {
      const status = (e as OrasflyError & { status?: number }).status ?? 0;
      return !(status === 408 || status === 429 || status >= 500);
    }
    default:
      return true;
  }
}

/** {@link ConductorOptions} with defaults applied (frozen). */
export type ResolvedConductorOptions = Readonly<typeof DEFAULT_CONDUCTOR_OPTIONS & ConductorOptions>;

function resolveOptions(o: ConductorOptions = {}): ResolvedConductorOptions {
  const r = { ...DEFAULT_CONDUCTOR_OPTIONS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as typeof DEFAULT_CONDUCTOR_OPTIONS &
    ConductorOptions;
  if (!Number.isInteger(r.concurrency) || r.concurrency < 1 || r.concurrency > 64) throw new InvalidArgumentError('concurrency', `expected an integer 1..64, got ${r.concurrency}`);
  if (!Number.isInteger(r.pieceRetries) || r.pieceRetries < 1) throw new InvalidArgumentError('pieceRetries', `expected an integer ≥ 1, got ${r.pieceRetries}`);
  if (!Number.isFinite(r.lowSpeedLimit) || r.lowSpeedLimit < 0) throw new InvalidArgumentError('lowSpeedLimit', `expected bytes per second ≥ 0, got ${r.lowSpeedLimit}`);
  if (!Number.isFinite(r.lowSpeedTime) || r.lowSpeedTime < 0) throw new InvalidArgumentError('lowSpeedTime', `expected ms ≥ 0, got ${r.lowSpeedTime}`);
  return Object.freeze(r);
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
 * const conductor = new PeerTaskConductor({ taskId, peerId, target, plan, writer, transport });
 * conductor.on('progress', (p) => console.log(p.percent));
 * const entry = await conductor.run({ signal });
 * ```
 */
export class PeerTaskConductor extends EventEmitter<ConductorEvents> implements PieceSink {
  readonly taskId: string;
  readonly peerId: string;
  readonly target: BlobTarget;
  readonly plan: PiecePlan;
  readonly options: ResolvedConductorOptions;
  #writer: TaskWriter;
  #transport: PieceTransport;
  #fallback: PieceTransport | undefined;
  #headers: Record<string, string> | undefined;
  #log: CoreLogger;
  #state: ConductorState = 'created';
  #done = new Set<number>();
  #inflight = new Set<number>();
  #contiguous = 0; // pieces 0..contiguous-1 are done
  #verifier: BlobVerifier | undefined;
  #transferred = 0;
  // Bytes of pieces still arriving: progress moves between pieces, which matters for 15 MiB pieces on slow links.
  #inflightBytes = 0;
  #lastEmitted = 0;
  #lastProgressAt = 0;
  #progressTimer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #controller = new AbortController();
  #outcome: Promise<TaskEntry> | undefined;

  constructor(init: ConductorInit) {
    super();
    this.taskId = init.taskId;
    this.peerId = init.peerId;
    this.target = init.target;
    this.plan = init.plan;
    this.options = resolveOptions(init.options);
    this.#writer = init.writer;
    this.#transport = init.transport;
    this.#fallback = init.fallbackTransport;
    this.#headers = init.headers;
    this.#log = (init.logger ?? new CoreLogger(undefined)).with({ peer: init.peerId, task: init.taskId, component: 'PeerTask' }, 'conductor/peer-task-conductor.ts');
    for (const [num] of this.#writer.pieces) if (num < this.plan.totalPieces) this.#done.add(num);
  }

  /** The current state. */
  get state(): ConductorState {
    return this.#state;
  }

  /** Bytes verified and stored so far. */
  get transferred(): number {
    return this.#transferred;
  }

  /** Piece numbers not yet stored. */
  missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.plan.totalPieces; i++) if (!this.#done.has(i)) out.push(i);
    return out;
  }

  /**
   * Runs the download once; later calls return the same outcome. `signal` aborts the task
   * (pieces stop, temporary data is removed) and the promise rejects with its reason.
   *
   * @throws DigestMismatchError (`ERR_ORASFLY_DIGEST_MISMATCH`) when the blob does not match its digest.
   * @throws TaskFailedError (`ERR_ORASFLY_TASK_FAILED`) when a piece keeps failing; `cause` says why.
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
    this.#startedAt = performance.now();
    this.#setState('running');
    debug('task %s start: %d bytes, %d pieces of %d, %d already stored', this.taskId, this.plan.contentLength, this.plan.totalPieces, this.plan.pieceSize, this.#done.size);
    try {
      this.#verifier = new BlobVerifier(this.#writer.dataFilePath, this.plan.contentLength, this.target.digest, { useWorker: this.options.hashOnWorker });
      for (const n of this.#done) this.#transferred += pieceAt(this.plan, n).range.length;
      this.#advanceContiguous();
      const task: TransportTask = { taskId: this.taskId, peerId: this.peerId, target: this.target, plan: this.plan, headers: this.#headers };

      if (this.#transport.drive) {
        try {
          await this.#transport.drive(task, this, { signal });
        } catch (e) {
          if (signal.aborted) throw signal.reason;
          debug('task %s: transport %s failed (%s), falling back', this.taskId, this.#transport.name, (e as Error).message);
          this.#log.warn(`transport ${this.#transport.name} failed, back to source: ${(e as Error).message}`);
        }
      }
      const pull = this.#transport.readPiece ? this.#transport : this.#fallback;
      if (this.#hasMissing()) {
        if (!pull) throw new TaskFailedError(this.taskId, 4000, `transport ${this.#transport.name} left ${this.plan.totalPieces - this.#done.size} pieces and no fallback is set`);
        await this.#pull(pull, task, signal);
      }

      this.#setState('completing');
      const actual = await raceSignal(this.#verifier.result(), signal);
      if (actual !== this.target.digest) throw new DigestMismatchError(this.target.digest, actual, 'blob');
      await this.#writer.flush();
      const costMs = Math.round(performance.now() - this.#startedAt);
      // Dragonfly logs this before persisting metadata; users grep for it.
      this.#log.info(`peer task done, cost: ${costMs}ms`);
      const entry = await this.#writer.complete({ digest: actual });
      this.#emitProgress(true);
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
      clearTimeout(this.#progressTimer);
    }
  }

  async #fail(error: unknown): Promise<void> {
    if (!this.#controller.signal.aborted) this.#controller.abort(error);
    await this.#verifier?.close();
    const costMs = Math.round(performance.now() - this.#startedAt);
    const code = error instanceof TaskFailedError ? error.dfCode : dragonflyCode(error);
    const reason = error instanceof Error ? error.message : String(error);
    this.#log.error(`peer task failed, code: ${code}, reason: ${reason}`);
    try {
      await this.#writer.abort();
    } catch (e) {
      debug('task %s: cleanup after failure failed: %s', this.taskId, (e as Error).message);
    }
    this.#setState('failed');
    this.emit('failed', { taskId: this.taskId, error, costMs });
  }

  async #pull(transport: PieceTransport, task: TransportTask, signal: AbortSignal): Promise<void> {
    const ranged = this.plan.totalPieces > 0 && transport.readPiece !== undefined && (transport.supportsRange ? await transport.supportsRange(task, { signal }) : true);
    if (!ranged) {
      debug('task %s: ranges not supported, one sequential stream', this.taskId);
      return this.#sequential(transport, task, signal);
    }
    const limit = pLimit(this.options.concurrency);
    const pieceSignal = new AbortController();
    const both = AbortSignal.any([signal, pieceSignal.signal]);
    let rangeLost = false;
    let firstError: unknown;
    // Jobs are created as slots free up, never one per piece up front: a hostile manifest may declare
    // a petabyte (72 M pieces), and memory must not grow with what was declared before bytes arrive.
    const running = new Set<Promise<void>>();
    for (const num of this.#missingPieces()) {
      while (running.size >= this.options.concurrency) await Promise.race(running);
      if (both.aborted || rangeLost) break;
      const job: Promise<void> = limit(async () => {
        if (both.aborted || rangeLost) return;
        try {
          await this.#fetchPiece(transport, task, pieceAt(this.plan, num), both);
        } catch (e) {
          if (e instanceof RangeNotSupportedError) {
            // The origin stopped honouring Range mid-task (or lied in its probe): finish sequentially.
            rangeLost = true;
            return;
          }
          if (firstError === undefined) firstError = e;
          if (!both.aborted) pieceSignal.abort(e);
        }
      }).finally(() => running.delete(job));
      running.add(job);
    }
    await Promise.all(running);
    if (signal.aborted) throw signal.reason;
    if (firstError !== undefined && !rangeLost) throw this.#asTaskError(pieceSignal.signal.reason ?? firstError);
    if (rangeLost && this.#hasMissing()) await this.#sequential(transport, task, signal);
  }

  /** Piece numbers not yet stored, lazily (a plan may have millions of pieces). */
  *#missingPieces(): Generator<number> {
    for (let i = 0; i < this.plan.totalPieces; i++) if (!this.#done.has(i)) yield i;
  }

  #hasMissing(): boolean {
    return this.#done.size < this.plan.totalPieces;
  }

  #asTaskError(e: unknown): unknown {
    // Errors that name their own cause precisely (bad bytes, full disk, store failure) stay as they are.
    if (e instanceof DigestMismatchError || e instanceof TaskFailedError || e instanceof StorageQuotaError || e instanceof StorageError) return e;
    if (this.#controller.signal.aborted && e === this.#controller.signal.reason && !(e instanceof OrasflyError)) return e;
    const reason = e instanceof Error ? e.message : String(e);
    return new TaskFailedError(this.taskId, dragonflyCode(e), reason, { cause: e });
  }

  #backoff(attempt: number): number {
    const base = Math.min(this.options.retryMaxDelay, this.options.retryMinDelay * 2 ** attempt);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  async #fetchPiece(transport: PieceTransport, task: TransportTask, piece: PieceInfo, signal: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.#done.has(piece.num)) return;
      const watch = new StallWatch(`piece ${piece.num}`, this.options.lowSpeedLimit, this.options.lowSpeedTime);
      const attempt_ = AbortSignal.any([signal, watch.signal]);
      try {
        const body = await raceSignal(transport.readPiece!(task, piece, { signal: attempt_ }), attempt_);
        await this.writePiece(piece.num, watch.count(body), { signal: attempt_ });
        return;
      } catch (caught) {
        if (signal.aborted) throw signal.reason;
        // A stalled attempt rejects with whatever the transport makes of the abort; the stall is the cause.
        const e = watch.signal.aborted ? watch.signal.reason : caught;
        if (e instanceof RangeNotSupportedError || isPermanent(e) || attempt + 1 >= this.options.pieceRetries) throw e;
        const delayMs = this.#backoff(attempt);
        debug('task %s piece %d attempt %d failed (%s), retry in %d ms', this.taskId, piece.num, attempt + 1, (e as Error).message, delayMs);
        this.emit('retry', { taskId: this.taskId, num: piece.num, attempt: attempt + 1, delayMs, error: e });
        await abortableDelay(delayMs, signal);
      } finally {
        watch.stop();
      }
    }
  }

  /** One stream of the whole blob, cut into pieces; stored pieces are skipped, not rewritten. */
  async #sequential(transport: PieceTransport, task: TransportTask, signal: AbortSignal): Promise<void> {
    if (!transport.readSequential) throw new TaskFailedError(this.taskId, 4000, `transport ${transport.name} supports neither ranges nor sequential reads`);
    for (let attempt = 0; ; attempt++) {
      const watch = new StallWatch('the blob stream', this.options.lowSpeedLimit, this.options.lowSpeedTime);
      const attempt_ = AbortSignal.any([signal, watch.signal]);
      try {
        const body = await raceSignal(transport.readSequential(task, { signal: attempt_ }), attempt_);
        await this.#consumeSequential(watch.count(body), attempt_);
        return;
      } catch (caught) {
        if (signal.aborted) throw signal.reason;
        const e = watch.signal.aborted ? watch.signal.reason : caught;
        if (isPermanent(e) || attempt + 1 >= this.options.pieceRetries) throw this.#asTaskError(e);
        const delayMs = this.#backoff(attempt);
        this.emit('retry', { taskId: this.taskId, num: 'sequential', attempt: attempt + 1, delayMs, error: e });
        await abortableDelay(delayMs, signal);
      } finally {
        watch.stop();
      }
    }
  }

  async #consumeSequential(body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<void> {
    let num = 0;
    let writer = this.#pieceWriter(pieceAt(this.plan, 0), signal);
    let skip = this.#done.has(0);
    let offset = 0;
    let total = 0;
    try {
      for await (const raw of body) {
        let chunk = raw;
        total += chunk.length;
        if (total > this.plan.contentLength) throw new SizeMismatchError(this.plan.contentLength, total, 'blob');
        while (chunk.length > 0) {
          const piece = pieceAt(this.plan, num);
          const part = chunk.subarray(0, piece.range.length - offset);
          chunk = chunk.subarray(part.length);
          if (!skip) await writer.push(part);
          offset += part.length;
          if (offset === piece.range.length) {
            if (!skip) await writer.end();
            num++;
            offset = 0;
            if (num < this.plan.totalPieces) {
              skip = this.#done.has(num);
              writer = this.#pieceWriter(pieceAt(this.plan, num), signal);
            }
          }
        }
      }
    } finally {
      writer.release();
    }
    if (total !== this.plan.contentLength) throw new SizeMismatchError(this.plan.contentLength, total, 'blob');
  }

  /** {@inheritDoc PieceSink.writePiece} */
  async writePiece(num: number, body: AsyncIterable<Uint8Array>, options: SignalOptions = {}): Promise<void> {
    if (!Number.isInteger(num) || num < 0 || num >= this.plan.totalPieces) throw new InvalidArgumentError('piece', `no piece ${num} in a task of ${this.plan.totalPieces}`);
    const piece = pieceAt(this.plan, num);
    if (this.#done.has(num) || this.#inflight.has(num)) {
      // Another source already has it: drain so the sender can go on.
      for await (const _ of body) void _;
      return;
    }
    this.#inflight.add(num);
    try {
      const w = this.#pieceWriter(piece, options.signal ?? this.#controller.signal);
      try {
        for await (const chunk of body) await w.push(chunk);
        await w.end();
      } finally {
        w.release();
      }
    } finally {
      this.#inflight.delete(num);
    }
  }

  /**
   * Accumulates a piece's bytes into ~1 MiB writes, digests them as they pass, and records the
   * piece only when exactly its length arrived.
   */
  #pieceWriter(piece: PieceInfo, signal: AbortSignal) {
    const hasher = createPieceHasher(this.options.pieceDigest);
    const started = performance.now();
    let buffered: Uint8Array[] = [];
    let bufferedBytes = 0;
    let written = 0;
    let received = 0;
    let counted = 0; // bytes of this piece included in #inflightBytes
    const limiter = this.options.rateLimiter;
    const flush = async () => {
      if (bufferedBytes === 0) return;
      const buf = buffered;
      buffered = [];
      const at = piece.range.start + written;
      written += bufferedBytes;
      bufferedBytes = 0;
      await this.#writer.write(buf, at);
    };
    return {
      push: async (chunk: Uint8Array): Promise<void> => {
        if (signal.aborted) throw signal.reason;
        received += chunk.length;
        if (received > piece.range.length) throw new SizeMismatchError(piece.range.length, received, `piece ${piece.num}`);
        hasher.update(chunk);
        counted += chunk.length;
        this.#inflightBytes += chunk.length;
        this.#emitProgress(false);
        buffered.push(chunk);
        bufferedBytes += chunk.length;
        if (limiter) await limiter.take(chunk.length, signal);
        if (bufferedBytes >= 0) await flush();
      },
      end: async (): Promise<void> => {
        if (received !== piece.range.length) throw new SizeMismatchError(piece.range.length, received, `piece ${piece.num}`);
        await flush();
        if (signal.aborted) throw signal.reason;
        this.#inflightBytes -= counted;
        counted = 0;
        if (this.#done.has(piece.num)) return;
        const costMs = performance.now() - started;
        const digest = hasher.digest();
        this.#writer.recordPiece({ num: piece.num, range: piece.range, digest, cost: Math.round(costMs * 1e6) });
        this.#done.add(piece.num);
        this.#transferred += piece.range.length;
        this.#advanceContiguous();
        this.emit('piece', { taskId: this.taskId, num: piece.num, start: piece.range.start, length: piece.range.length, digest, costMs });
        this.#emitProgress(false);
      },
      /** Forgets this piece's in-flight bytes (it failed or was abandoned). Idempotent. */
      release: (): void => {
        this.#inflightBytes -= counted;
        counted = 0;
      },
    };
  }

  #advanceContiguous(): void {
    const before = this.#contiguous;
    while (this.#contiguous < this.plan.totalPieces && this.#done.has(this.#contiguous)) this.#contiguous++;
    if (this.#contiguous !== before || before === 0) {
      const end = this.#contiguous >= this.plan.totalPieces ? this.plan.contentLength : this.#contiguous * this.plan.pieceSize;
      this.#verifier?.advance(end);
    }
  }

  /** Emits progress at most every `progressInterval` ms (and always the final one). */
  #emitProgress(final: boolean): void {
    const now = performance.now();
    const send = () => {
      this.#progressTimer = undefined;
      this.#lastProgressAt = performance.now();
      const total = this.plan.contentLength;
      // Monotonic: a failed piece's bytes leave the count, but what was shown never goes back.
      const transferred = final ? total : Math.min(total, Math.max(this.#lastEmitted, this.#transferred + this.#inflightBytes));
      this.#lastEmitted = transferred;
      this.emit('progress', { taskId: this.taskId, transferred, total, percent: total === 0 ? 100 : Math.floor((transferred / total) * 10000) / 100 });
    };
    if (final) {
      clearTimeout(this.#progressTimer);
      send();
      return;
    }
    if (this.#progressTimer) return;
    const wait = this.options.progressInterval - (now - this.#lastProgressAt);
    if (wait <= 0) send();
    else this.#progressTimer = setTimeout(send, wait);
  }
}
