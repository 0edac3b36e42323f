/**
 * One piece's bytes, from chunks to a recorded piece: each chunk is size-checked, digested (crc32 or
 * md5), counted for progress, rate-limited and — when it continues the blob's hashed prefix — fed to
 * the blob hash while still in cache. Chunks are gathered, without copying, into writes of at least
 * {@link BATCH_BYTES} (one `writev` each), at most {@link MAX_WRITES_IN_FLIGHT} in flight: one
 * thread-pool round trip per 64 KiB socket chunk (or per 16 KiB TLS record) was the largest cost of
 * a pull (the data-path profile behind issue #19). The piece is recorded only when exactly its
 * length arrived.
 *
 * @module
 */
import { DigestMismatchError, SizeMismatchError } from '../core/errors.js';
import type { PieceInfo } from '../core/piece-plan.js';
import { createPieceHasher, pieceDigestDiffers } from '../storage/piece-digest.js';
import type { PieceDigestAlgorithm } from '../storage/options.js';
import type { TaskWriter } from '../storage/task-writer.js';
import type { BlobVerifier } from './blob-verifier.js';
import type { ProgressMeter } from './progress.js';
import type { RateLimiter } from './rate-limiter.js';
import type { BodyMemory } from '../internal/chunks.js';
import { monotonicMs } from '../internal/clock.js';

/**
 * Bytes gathered before a write is issued; a chunk at least this large is a write by itself (a
 * direct connection hands over up to a pooled buffer's worth, 1 MiB, per turn of the event loop).
 * 256 KiB with one write in flight, rather than 1 MiB with two: over TLS on loopback (512 MiB, 8
 * alternating rounds) the system CPU was 0.41 s against 0.50 s and the whole pull's CPU 1.31 s
 * against 1.37 s; over plain HTTP no worse (`bench/README.md`).
 */
export const BATCH_BYTES = 256 * 1024;
/**
 * Writes of one piece in flight before it waits for the oldest. One: buffered writes to one file
 * serialise on its inode lock, so a second write in flight only adds a thread-pool handoff.
 */
export const MAX_WRITES_IN_FLIGHT = 1;

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
  /** The sender's algorithm, when it is not the store's: the piece is held to what was reported. */
  readonly #theirs: ReturnType<typeof createPieceHasher> | undefined;
  readonly #verifier: BlobVerifier | undefined;
  readonly #meter: ProgressMeter;
  readonly #limiter: RateLimiter | undefined;
  readonly #signal: AbortSignal;
  readonly #memory: BodyMemory | undefined;
  readonly #started = monotonicMs();
  #received = 0;
  /** Bytes reported to the meter and not yet settled. */
  #counted = 0;
  #fed = false;
  #settled = false;
  /** Writes issued and not yet awaited (the store runs them one at a time, in order). */
  readonly #writes: Promise<void>[] = [];
  /** Chunks gathered for the next write, which starts at {@link #batchAt}. */
  #batch: Uint8Array[] = [];
  #batchBytes = 0;
  #batchAt = 0;

  constructor(
    piece: PieceInfo,
    o: {
      writer: TaskWriter;
      pieceDigest: PieceDigestAlgorithm;
      verifier?: BlobVerifier | undefined;
      meter: ProgressMeter;
      limiter?: RateLimiter | undefined;
      /** Where pooled chunks come from: the batch holds them until their write is done. */
      memory?: BodyMemory | undefined;
      /**
       * The digest the sender reports for the piece, when known before its bytes (a daemon's
       * `crc32:…`): in another algorithm than the store's, that one is computed too, so that
       * {@link PieceAssembler.end} can compare them.
       */
      reported?: string | undefined;
      signal: AbortSignal;
    },
  ) {
    this.piece = piece;
    this.#writer = o.writer;
    this.#hasher = createPieceHasher(o.pieceDigest);
    const theirs = o.reported?.split(':', 1)[0]!.toLowerCase();
    this.#theirs =
      (theirs === 'crc32' || theirs === 'md5') && theirs !== o.pieceDigest ? createPieceHasher(theirs) : undefined;
    this.#verifier = o.verifier;
    this.#meter = o.meter;
    this.#limiter = o.limiter;
    this.#signal = o.signal;
    this.#memory = o.memory;
  }

  /**
   * Takes the next chunk of the piece. Returns a promise only when the caller must wait (a write
   * to make room for, the rate limit): the common case costs no promise per chunk.
   */
  push(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#signal.aborted) throw this.#signal.reason;
    const at = this.piece.range.start + this.#received;
    this.#received += chunk.length;
    if (this.#received > this.piece.range.length)
      throw new SizeMismatchError(this.piece.range.length, this.#received, `piece ${this.piece.num}`);
    this.#hasher.update(chunk);
    this.#theirs?.update(chunk);
    this.#counted += chunk.length;
    this.#meter.arriving(chunk.length);
    if (this.#verifier?.inline) {
      this.#fed = true;
      this.#verifier.feed(this.piece.range.start, at, chunk);
    }
    if (this.#batchBytes === 0) this.#batchAt = at;
    this.#memory?.retain(chunk);
    this.#batch.push(chunk);
    this.#batchBytes += chunk.length;
    const full = this.#batchBytes >= BATCH_BYTES ? this.#flush() : undefined;
    if (this.#limiter) return this.#limited(chunk.length, full);
    return full;
  }

  async #limited(bytes: number, full: Promise<void> | undefined): Promise<void> {
    if (full) await full;
    await this.#limiter!.take(bytes, this.#signal);
  }

  /** Issues the gathered chunks as one write; waits while too many are in flight. */
  #flush(): Promise<void> | undefined {
    if (this.#batchBytes === 0) return undefined;
    const batch = this.#batch;
    let done = this.#writer.write(batch.length === 1 ? batch[0]! : batch, this.#batchAt);
    const memory = this.#memory;
    if (memory) {
      // The buffers are reused once written, whether the write worked or not (never while in flight).
      const free = (): void => {
        for (const c of batch) memory.release(c);
      };
      done = done.finally(free);
    }
    done.catch(() => {}); // observed when awaited
    this.#writes.push(done);
    this.#batch = [];
    this.#batchBytes = 0;
    return this.#writes.length > MAX_WRITES_IN_FLIGHT ? this.#settleOldest() : undefined;
  }

  /**
   * The piece's bytes are all in: checks the length (and, given `reported`, the digest its sender
   * reports for it), waits for its writes and returns its digest,
   * also when the signal aborted meanwhile (the piece is whole). The caller records it.
   * @throws SizeMismatchError when fewer bytes than the piece's length arrived.
   */
  async end(reported?: string): Promise<AssembledPiece> {
    if (this.#received !== this.piece.range.length)
      throw new SizeMismatchError(this.piece.range.length, this.#received, `piece ${this.piece.num}`);
    await this.#flush();
    while (this.#writes.length > 0) await this.#settleOldest();
    const digest = this.#hasher.digest();
    // Bytes that disagree with the digest their sender reports are refused before they count: the
    // attempt is released (the blob hash forgets them) and the piece stays missing.
    const compared = this.#theirs?.digest() ?? digest;
    if (reported !== undefined && pieceDigestDiffers(reported, compared))
      throw new DigestMismatchError(reported, compared, `piece ${this.piece.num}`);
    // No abort check here: every byte arrived, was digested and is written, so the piece is whole.
    // An abort that lands while its last write is in flight (Ctrl-C right as a piece ends) would
    // otherwise drop a verified piece that the resumable entry can keep.
    this.#settled = true;
    this.#meter.pieceStored(this.piece.range.length, this.#counted);
    this.#counted = 0;
    this.#verifier?.pieceDone(this.piece.range.start);
    return { digest, costMs: monotonicMs() - this.#started };
  }

  async #settleOldest(): Promise<void> {
    await this.#writes.shift();
  }

  /** The attempt is over without {@link end} (failed, abandoned, or another source had the piece). Idempotent. */
  release(): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#memory) for (const c of this.#batch) this.#memory.release(c);
    this.#batch = [];
    this.#batchBytes = 0;
    this.#meter.forget(this.#counted);
    this.#counted = 0;
    if (this.#fed) this.#verifier?.pieceFailed(this.piece.range.start);
  }
}
