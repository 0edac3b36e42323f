/**
 * Bytes that arrived ahead of the blob hash's frontier (another connection's segment), kept in
 * memory up to a stated bound so the hash takes them from there when the frontier reaches them,
 * instead of reading them back from the data file. What does not fit is not kept: the hash reads
 * it back. Chunks are views of pooled body memory, held (`BodyMemory.retain`) while kept.
 *
 * @module
 */
import type { BodyMemory } from '../internal/chunks.js';

/** Bytes ahead of the frontier kept in memory, at most. */
export const FRONTIER_HOLD_BYTES = 16 * 1024 * 1024;

interface Held {
  readonly at: number;
  readonly chunk: Uint8Array;
  /** Start of the piece the bytes belong to (dropped if that piece fails). */
  readonly piece: number;
}

/** Out-of-order chunks by offset, within {@link FRONTIER_HOLD_BYTES}. */
export class FrontierHold {
  readonly #memory: BodyMemory;
  readonly #limit: number;
  /** Sorted by `at`; chunks never overlap (each byte is written once per attempt). */
  #held: Held[] = [];
  #bytes = 0;

  constructor(memory: BodyMemory, limit = FRONTIER_HOLD_BYTES) {
    this.#memory = memory;
    this.#limit = limit;
  }

  /** Bytes kept now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Keeps `chunk` (at `at`, of piece `piece`) if it fits; returns whether it was kept. */
  add(piece: number, at: number, chunk: Uint8Array): boolean {
    if (this.#bytes + chunk.length > this.#limit) return false;
    this.#memory.retain(chunk);
    const h = this.#held;
    // Segments append in order, so the insertion point is usually the end.
    let i = h.length;
    while (i > 0 && h[i - 1]!.at > at) i--;
    h.splice(i, 0, { at, chunk, piece });
    this.#bytes += chunk.length;
    return true;
  }

  /** Where the next kept chunk at or after `pos` starts (`Infinity` when none). */
  nextAt(pos: number): number {
    this.dropBefore(pos);
    return this.#held[0]?.at ?? Infinity;
  }

  /**
   * The kept chunk starting exactly at `pos` if `usable(piece)` agrees, handed over to the caller
   * (who must call {@link done} with it once hashed), or `undefined`.
   */
  take(pos: number, usable: (piece: number) => boolean): { chunk: Uint8Array; piece: number } | undefined {
    this.dropBefore(pos);
    const first = this.#held[0];
    if (first?.at !== pos || !usable(first.piece)) return undefined;
    this.#held.shift();
    this.#bytes -= first.chunk.length;
    return first;
  }

  /** Lets go of a chunk returned by {@link take}. */
  done(chunk: Uint8Array): void {
    this.#memory.release(chunk);
  }

  /** Forgets what piece `piece` sent: that attempt failed, a retry may write other bytes. */
  dropPiece(piece: number): void {
    this.#held = this.#held.filter((h) => {
      if (h.piece !== piece) return true;
      this.#forget(h);
      return false;
    });
  }

  /** Forgets chunks that end at or before `pos` (the hash went past them another way). */
  dropBefore(pos: number): void {
    while (this.#held.length > 0 && this.#held[0]!.at + this.#held[0]!.chunk.length <= pos)
      this.#forget(this.#held.shift()!);
    // A chunk straddling `pos` cannot be used from its start: forget it too (read back instead).
    if (this.#held.length > 0 && this.#held[0]!.at < pos) this.#forget(this.#held.shift()!);
  }

  /** Forgets everything. */
  clear(): void {
    for (const h of this.#held) this.#memory.release(h.chunk);
    this.#held = [];
    this.#bytes = 0;
  }

  #forget(h: Held): void {
    this.#bytes -= h.chunk.length;
    this.#memory.release(h.chunk);
  }
}
