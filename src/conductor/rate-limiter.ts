/**
 * A token bucket shared by every piece of every task (Dragonfly's `download.totalRateLimit`).
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import { abortableDelay } from '../internal/abort.js';
import { monotonicMs } from '../internal/clock.js';

/**
 * Limits throughput to `bytesPerSecond`, with a burst of one second's worth: the bucket starts
 * full, so over any window of T seconds at most (T + 1) × `bytesPerSecond` bytes pass.
 */
export class RateLimiter {
  readonly bytesPerSecond: number;
  #tokens: number;
  #last: number;
  readonly #now: () => number;

  /** `now` is the clock in ms (injectable for tests). */
  constructor(bytesPerSecond: number, now: () => number = monotonicMs) {
    if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0)
      throw new InvalidArgumentError('totalRateLimit', `expected a positive number of bytes/s, got ${bytesPerSecond}`);
    this.bytesPerSecond = bytesPerSecond;
    this.#now = now;
    this.#tokens = bytesPerSecond;
    this.#last = now();
  }

  /** Waits until `n` bytes may pass. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    const now = this.#now();
    this.#tokens = Math.min(this.bytesPerSecond, this.#tokens + ((now - this.#last) / 1000) * this.bytesPerSecond);
    this.#last = now;
    this.#tokens -= n;
    if (this.#tokens < 0) await abortableDelay((-this.#tokens / this.bytesPerSecond) * 1000, signal);
  }
}
