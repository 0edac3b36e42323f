/**
 * Reusable body memory: fixed-size buffers that a reader fills and the writers hand back once their
 * bytes are on disk, so a pull allocates a handful of buffers instead of one per socket read. The
 * per-read garbage was the rest of a first pull's peak RSS: 64 KiB socket chunks (16 KiB TLS records)
 * that die young but are freed only when V8 next collects, 40 MiB of them at the peak of a 2 GiB pull
 * (`bench/README.md`). Holders count per buffer: a buffer is split into views (a piece boundary, a
 * write batch), and it is free again when the last view is released.
 *
 * @module
 * @internal
 */
import type { BodyMemory } from './chunks.js';

/**
 * Bytes of one pooled buffer: large enough that a socket read is rarely cut short by the end of a
 * buffer; writes are issued per `BATCH_BYTES` gathered (piece-assembler.ts), a buffer's views at a time.
 */
export const POOL_BUFFER_BYTES = 1024 * 1024;
/** Free buffers kept; more are left to the GC (a burst of connections does not pin its memory). */
export const POOL_KEEP = 16;

/** Buffers lent to a reader and handed back by whoever holds the last view of them. */
export class ChunkPool implements BodyMemory {
  readonly bufferBytes: number;
  readonly #keep: number;
  readonly #free: Uint8Array[] = [];
  /** Holders per lent buffer. */
  readonly #holds = new Map<ArrayBufferLike, number>();

  constructor(options: { bufferBytes?: number; keep?: number } = {}) {
    this.bufferBytes = options.bufferBytes ?? POOL_BUFFER_BYTES;
    this.#keep = options.keep ?? POOL_KEEP;
  }

  /** A whole buffer with one holder, the caller. */
  take(): Uint8Array {
    // Not Buffer.allocUnsafe: that may hand out a slice of Node's shared 8 KiB pool, and a pooled
    // buffer must own its ArrayBuffer (holders are counted per ArrayBuffer).
    const b = this.#free.pop() ?? new Uint8Array(this.bufferBytes);
    this.#holds.set(b.buffer, 1);
    return b;
  }

  /** One more holder of `chunk`'s buffer. A chunk that is not from this pool is ignored. */
  retain(chunk: Uint8Array): void {
    const n = this.#holds.get(chunk.buffer);
    if (n !== undefined) this.#holds.set(chunk.buffer, n + 1);
  }

  /** One holder less; the buffer is free again when none is left. Ignores chunks not from this pool. */
  release(chunk: Uint8Array): void {
    const n = this.#holds.get(chunk.buffer);
    if (n === undefined) return;
    if (n > 1) {
      this.#holds.set(chunk.buffer, n - 1);
      return;
    }
    this.#holds.delete(chunk.buffer);
    if (this.#free.length < this.#keep) this.#free.push(new Uint8Array(chunk.buffer, 0, this.bufferBytes));
  }

  /** Buffers lent and not yet handed back (for tests and leak checks). */
  get lent(): number {
    return this.#holds.size;
  }
}
