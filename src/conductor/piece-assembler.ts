/**
 * One piece's bytes, from chunks to a recorded piece: each chunk is size-checked, digested (crc32 or
 * md5), counted for progress, rate-limited, written at its offset and — when it continues the blob's
 * hashed prefix — fed to the blob hash while still in cache. The piece is recorded only when exactly
 * its length arrived.
 *
 * Chunks are written as they come (no gathering into 1 MiB in JS): they are freed young, which keeps
 * the heap and RSS small; the store serialises writes per file.
 *
 * @module
 */
import { SizeMismatchError } from '../core/errors.js';
import type { PieceInfo } from '../core/piece-plan.js';
import { createPieceHasher } from '../storage/piece-digest.js';
import type { PieceDigestAlgorithm } from '../storage/options.js';
import type { TaskWriter } from '../storage/task-writer.js';
import type { BlobVerifier } from './blob-verifier.js';
import type { ProgressMeter } from './progress.js';
import type { RateLimiter } from './rate-limiter.js';

/** Bytes of one piece's writes in flight before it waits for the oldest. */
const MAX_WRITING_BYTES = 1024 * 1024;

/** What an assembled piece reports. */
export interface AssembledPiece {
  digest: string;
  costMs: number;
}

/** Assembles one attempt of one piece. */
export class PieceAssembler {
  readonly piece: PieceInfo;
  readonly #writer: TaskWriter;
  readonly #hasher: ReturnType<typeof createPieceHasher>;
  readonly #verifier: BlobVerifier | undefined;
  readonly #meter: ProgressMeter;
  readonly #limiter: RateLimiter | undefined;
  readonly #signal: AbortSignal;
  readonly #started = performance.now();
  #received = 0;
  /** Bytes reported to the meter and not yet settled. */
  #counted = 0;
  #fed = false;
  #settled = false;
  /** Writes issued and not yet awaited (the store runs them one at a time, in order). */
  readonly #writes: { done: Promise<void>; bytes: number }[] = [];
  #writingBytes = 0;

  constructor(
    piece: PieceInfo,
    o: {
      writer: TaskWriter;
      pieceDigest: PieceDigestAlgorithm;
      verifier?: BlobVerifier | undefined;
      meter: ProgressMeter;
      limiter?: RateLimiter | undefined;
      signal: AbortSignal;
    },
  ) {
    this.piece = piece;
    this.#writer = o.writer;
    this.#hasher = createPieceHasher(o.pieceDigest);
    this.#verifier = o.verifier;
    this.#meter = o.meter;
    this.#limiter = o.limiter;
    this.#signal = o.signal;
  }

  /** Takes the next chunk of the piece. */
  async push(chunk: Uint8Array): Promise<void> {
    if (this.#signal.aborted) throw this.#signal.reason;
    const at = this.piece.range.start + this.#received;
    this.#received += chunk.length;
    if (this.#received > this.piece.range.length)
      throw new SizeMismatchError(this.piece.range.length, this.#received, `piece ${this.piece.num}`);
    this.#hasher.update(chunk);
    this.#counted += chunk.length;
    this.#meter.arriving(chunk.length);
    if (this.#limiter) await this.#limiter.take(chunk.length, this.#signal);
    // Issue the write and read on: awaiting each write before taking the next chunk would make one
    // connection wait a thread-pool round trip per 64 KiB. A few MiB may be in flight per piece.
    const done = this.#writer.write(chunk, at);
    done.catch(() => {}); // observed when awaited below
    this.#writes.push({ done, bytes: chunk.length });
    this.#writingBytes += chunk.length;
    while (this.#writingBytes > MAX_WRITING_BYTES) await this.#settleOldest();
    if (this.#verifier?.inline) {
      this.#fed = true;
      this.#verifier.feed(this.piece.range.start, at, chunk);
    }
  }

  /**
   * The piece's bytes are all in: checks the length and returns its digest. The caller records it.
   * @throws SizeMismatchError when fewer bytes than the piece's length arrived.
   */
  async end(): Promise<AssembledPiece> {
    if (this.#received !== this.piece.range.length)
      throw new SizeMismatchError(this.piece.range.length, this.#received, `piece ${this.piece.num}`);
    while (this.#writes.length > 0) await this.#settleOldest();
    if (this.#signal.aborted) throw this.#signal.reason;
    this.#settled = true;
    this.#meter.pieceStored(this.piece.range.length, this.#counted);
    this.#counted = 0;
    this.#verifier?.pieceDone(this.piece.range.start);
    return { digest: this.#hasher.digest(), costMs: performance.now() - this.#started };
  }

  async #settleOldest(): Promise<void> {
    const w = this.#writes.shift()!;
    this.#writingBytes -= w.bytes;
    await w.done;
  }

  /** The attempt is over without {@link end} (failed, abandoned, or another source had the piece). Idempotent. */
  release(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#meter.forget(this.#counted);
    this.#counted = 0;
    if (this.#fed) this.#verifier?.pieceFailed(this.piece.range.start);
  }
}
