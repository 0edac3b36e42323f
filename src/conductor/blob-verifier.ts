/**
 * Whole-blob digest computed while downloading: pieces complete out of order, so we hash the
 * contiguous prefix of the data file as it grows. Large blobs fetched over several connections are
 * hashed on a worker thread (`blob-hash-worker`), reading the prefix back from the page cache. Inline
 * (on the calling thread), bytes that continue the hashed prefix are hashed as they are written —
 * no read-back at all for a single in-order stream — bytes ahead of it are kept in memory within a
 * bound (`frontier-hold.ts`) and hashed when the prefix reaches them, and only what did not fit is
 * read back.
 *
 * @module
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import { requireBuiltin } from '../internal/node-require.js';
import { InvalidArgumentError } from '../core/errors.js';
import { HASH_WORKER_SOURCE } from './blob-hash-worker.js';
import { FrontierHold } from './frontier-hold.js';
import type { BodyMemory } from '../internal/chunks.js';

/** Blobs at least this large are hashed on a worker thread. */
export const WORKER_HASH_THRESHOLD = 32 * 1024 * 1024;

/** Hashes a data file's prefix as it becomes final. */
export class BlobVerifier {
  readonly algorithm: string;
  readonly size: number;
  #path: string;
  /** Hashing is on a worker thread (started at the first bytes declared final). */
  #workerWanted = false;
  #worker: Worker | undefined;
  #result: Promise<string>;
  #resolve!: (d: string) => void;
  #reject!: (e: Error) => void;
  // inline mode
  #hash: Hash | undefined;
  #pos = 0;
  #target = 0;
  #pumping: Promise<void> | undefined;
  #fh: FileHandle | undefined;
  #settled = false;
  /** Start of the piece whose bytes are being fed, while it is unfinished. */
  #feeding: number | undefined;
  /** The hash as it was at the start of the piece being fed: a failure of that piece resumes there. */
  #atFeedingStart: Hash | undefined;
  /** Bumped when the hash restarts: a read-back of the old generation stops. */
  #generation = 0;
  /** Bytes ahead of the prefix, kept for hashing from memory (inline mode with body memory). */
  readonly #hold: FrontierHold | undefined;
  /** Starts of the pieces completed (their bytes are final). */
  readonly #done = new Set<number>();

  /**
   * @param expectedDigest - `sha256:<hex>` (or sha512); only the algorithm is taken from it.
   */
  constructor(
    path: string,
    size: number,
    expectedDigest: string,
    options: {
      useWorker?: boolean;
      /** Body memory the fed chunks come from: bytes ahead of the prefix are then kept, within `holdBytes`. */
      memory?: BodyMemory | undefined;
      /** Bytes kept ahead of the prefix at most. @defaultValue 16 MiB (`FRONTIER_HOLD_BYTES`) */
      holdBytes?: number;
    } = {},
  ) {
    const alg = expectedDigest.split(':')[0] ?? '';
    if (alg !== 'sha256' && alg !== 'sha512')
      throw new InvalidArgumentError('digest', `unsupported digest algorithm ${JSON.stringify(alg)}`);
    this.algorithm = alg;
    this.size = size;
    this.#path = path;
    this.#result = new Promise<string>((res, rej) => {
      this.#resolve = res;
      this.#reject = rej;
    });
    this.#result.catch(() => {}); // observed through result()
    const useWorker = options.useWorker ?? size >= WORKER_HASH_THRESHOLD;
    if (size === 0) {
      this.#settle(`${alg}:${createHash(alg).digest('hex')}`);
    } else if (useWorker) {
      // Started by the first bytes declared final, not here: a daemon's file taken whole is hashed
      // by its own check, and a worker started for nothing costs ~50 ms of CPU and ~10 MiB.
      this.#workerWanted = true;
    } else {
      this.#hash = createHash(alg);
      if (options.memory) this.#hold = new FrontierHold(options.memory, options.holdBytes);
    }
  }

  /** Whether bytes are hashed on this thread (so {@link BlobVerifier.feed} can skip the read-back). */
  get inline(): boolean {
    return this.#hash !== undefined;
  }

  /**
   * Bytes of piece `pieceStart` just written at `offset`. When they continue the hashed prefix they
   * are hashed now (inline mode), while still in cache, instead of being read back later. If that
   * piece then fails, {@link BlobVerifier.pieceFailed} restarts the hash from the file: a retry may
   * write other bytes over the ones hashed.
   */
  feed(pieceStart: number, offset: number, chunk: Uint8Array): void {
    if (!this.#hash || this.#settled) return;
    if (!this.#pumping) this.#drain();
    // Only one unfinished piece is fed at a time (the one a failure restarts the hash for): bytes of
    // the next piece wait in the hold while the last one's end() is still pending.
    const other = this.#feeding !== undefined && this.#feeding !== pieceStart;
    if (this.#pumping || offset !== this.#pos || other) {
      if (offset > this.#pos || (other && offset === this.#pos)) this.#hold?.add(pieceStart, offset, chunk);
      return;
    }
    this.#startFeeding(pieceStart);
    this.#hash.update(chunk);
    this.#pos += chunk.length;
    this.#target = Math.max(this.#target, this.#pos);
    this.#drain();
  }

  /**
   * Hashes kept chunks that continue the prefix. Only one unfinished piece may be fed at a time
   * (the one a failure would restart the hash for), so a kept chunk of another waits.
   */
  #drain(): void {
    const hold = this.#hold;
    if (!hold || !this.#hash) return;
    const usable = (piece: number): boolean => this.#feeding === undefined || this.#feeding === piece;
    for (let h = hold.take(this.#pos, usable); h; h = hold.take(this.#pos, usable)) {
      if (this.#done.has(h.piece)) this.#feeding = undefined;
      else this.#startFeeding(h.piece);
      this.#hash.update(h.chunk);
      this.#pos += h.chunk.length;
      this.#target = Math.max(this.#target, this.#pos);
      hold.done(h.chunk);
    }
  }

  /**
   * Piece `pieceStart` is fed from now on (called before its bytes are hashed). When the prefix
   * stands at the piece's start, the hash's state there is kept: a failure of the piece resumes
   * from it instead of re-reading the whole prefix from the file.
   */
  #startFeeding(pieceStart: number): void {
    if (this.#feeding === pieceStart) return;
    this.#feeding = pieceStart;
    this.#atFeedingStart = this.#pos === pieceStart ? this.#hash!.copy() : undefined;
  }

  #startedWorker(): Worker {
    if (this.#worker) return this.#worker;
    const { Worker: WorkerClass } = requireBuiltin<typeof import('node:worker_threads')>('node:worker_threads');
    // The worker allocates almost nothing (one 1 MiB read buffer): a small heap keeps its RSS down.
    const w = new WorkerClass(HASH_WORKER_SOURCE, {
      eval: true,
      workerData: { path: this.#path, size: this.size, algorithm: this.algorithm },
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 },
    });
    this.#worker = w;
    w.on('message', (m: { digest?: string; error?: string }) => {
      if (m.digest) this.#settle(m.digest);
      else this.#fail(new Error(`blob hashing failed: ${m.error}`));
    });
    w.on('error', (e) => this.#fail(e));
    w.on('exit', (code) => {
      if (!this.#settled) this.#fail(new Error(`blob hash worker exited with code ${code}`));
    });
    return w;
  }

  /** The piece at `pieceStart` completed: what was fed of it is final. */
  pieceDone(pieceStart: number): void {
    this.#done.add(pieceStart);
    if (this.#feeding === pieceStart) {
      this.#feeding = undefined;
      this.#atFeedingStart = undefined;
    }
    if (!this.#pumping && !this.#settled) this.#drain();
  }

  /** The piece at `pieceStart` failed after some of its bytes were fed: hash again from the file. */
  pieceFailed(pieceStart: number): void {
    this.#hold?.dropPiece(pieceStart);
    if (this.#feeding !== pieceStart || !this.#hash || this.#settled) return;
    this.#feeding = undefined;
    const resume = this.#atFeedingStart;
    this.#atFeedingStart = undefined;
    // Everything before the piece is final; its own fed bytes are not. The hash goes back to the
    // piece's start (kept when its first bytes were fed), else re-hashes the prefix from disk.
    this.#generation++;
    this.#hash = resume ?? createHash(this.algorithm);
    this.#pos = resume ? pieceStart : 0;
    this.#target = Math.min(this.#target, pieceStart);
    if (this.#target > this.#pos) this.advance(this.#target);
  }

  /** Declares bytes `[0, end)` final; they are hashed in the background. */
  advance(end: number): void {
    if (this.#settled) return;
    if (this.#workerWanted) {
      if (end > 0) this.#startedWorker().postMessage({ end });
      return;
    }
    this.#target = Math.max(this.#target, Math.min(end, this.size));
    if (this.#pos >= this.#target) {
      // Everything declared final was fed already.
      if (this.#pos === this.size && this.#feeding === undefined) this.#finish();
      return;
    }
    this.#pumping ??= this.#pump().finally(() => {
      this.#pumping = undefined;
      if (this.#settled) return;
      this.#drain();
      if (this.#pos < this.#target) this.advance(this.#target);
      else if (this.#pos === this.size && this.#feeding === undefined) this.#finish();
    });
  }

  async #pump(): Promise<void> {
    const gen = this.#generation;
    try {
      if (!this.#fh) {
        const fh = await open(this.#path, 'r');
        // Closed (cancelled) while the file was opening: this handle is nobody's to close but ours.
        if (this.#settled) return void (await fh.close().catch(() => {}));
        this.#fh = fh;
      }
      const buf = Buffer.allocUnsafe(1024 * 1024);
      while (this.#pos < this.#target && !this.#settled) {
        // Kept bytes of completed pieces are hashed from memory; only the rest is read back.
        const kept = this.#hold?.take(this.#pos, (piece) => this.#done.has(piece));
        if (kept) {
          this.#hash!.update(kept.chunk);
          this.#pos += kept.chunk.length;
          this.#hold!.done(kept.chunk);
          continue;
        }
        const at = this.#pos;
        const until = Math.min(this.#target, this.#hold?.nextAt(at) ?? Infinity);
        const { bytesRead } = await this.#fh.read(buf, 0, Math.min(buf.length, until - at), at);
        if (gen !== this.#generation) return; // restarted meanwhile: the new generation reads again
        if (bytesRead === 0) throw new Error(`unexpected end of data file at ${this.#pos}`);
        this.#hash!.update(buf.subarray(0, bytesRead));
        this.#pos += bytesRead;
      }
      if (this.#pos === this.size) this.#finish();
    } catch (e) {
      this.#fail(e as Error);
    }
  }

  #finish(): void {
    void this.#fh?.close().catch(() => {});
    this.#fh = undefined;
    this.#settle(`${this.algorithm}:${this.#hash!.digest('hex')}`);
  }

  /**
   * Every byte was hashed by the caller in one read of the final data file (a file taken whole into
   * the store): `digest` is the result, and nothing is read again.
   */
  hashedWhole(digest: string): void {
    this.#hold?.clear();
    void this.#fh?.close().catch(() => {});
    this.#fh = undefined;
    this.#settle(digest);
  }

  /** The digest (`sha256:<hex>`) once every byte was declared final and hashed. */
  result(): Promise<string> {
    return this.#result;
  }

  #settle(d: string): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve(d);
    void this.#worker?.terminate();
  }

  #fail(e: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(e);
    void this.#worker?.terminate();
  }

  /** Stops hashing (on cancel or failure). */
  async close(): Promise<void> {
    this.#fail(new Error('verifier closed'));
    this.#hold?.clear();
    await this.#fh?.close().catch(() => {});
    this.#fh = undefined;
  }
}
