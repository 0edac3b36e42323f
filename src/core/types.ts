/**
 * Value types every layer shares: the `{ signal }` option of every async operation, and a byte
 * span. The bottom floor: imports nothing.
 *
 * @module
 */

/** Options accepted by every async operation. */
export interface SignalOptions {
  /** Cancels the operation; it rejects with the signal's `reason`. */
  signal?: AbortSignal | undefined;
}

/** A byte span: `length` bytes from `start` (like Dragonfly's `Range{Start, Length}`). */
export interface ByteRange {
  readonly start: number;
  readonly length: number;
}
