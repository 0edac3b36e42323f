/**
 * The speed both progress displays show: bytes per second over the last few seconds, never over the
 * first second of a pull. A `--ratelimit` bucket starts full (one second's worth passes at once, as
 * dfget's does), and a pull joined or resumed starts with bytes already there: counted from the
 * start, either shows as a speed the link never had (220 MiB/s under a 20 MiB/s limit).
 *
 * @module
 */
import { monotonicMs } from '../internal/clock.js';

/** No speed is shown until this long after the first sample, ms. */
export const SPEED_SETTLE_MS = 1000;
/** The speed is measured over about this long, ms. */
export const SPEED_WINDOW_MS = 3000;

/** Samples of (time, bytes) and the speed they show. */
export class SpeedMeter {
  readonly #now: () => number;
  #start: number | undefined;
  #samples: Array<[number, number]> = [];

  /** `now`: the clock in ms (injectable for tests). */
  constructor(now: () => number = monotonicMs) {
    this.#now = now;
  }

  /** Records that `bytes` have arrived so far. */
  sample(bytes: number): void {
    const now = this.#now();
    this.#start ??= now;
    // The first second holds the limiter's burst and what was there before: it never counts.
    if (now - this.#start < SPEED_SETTLE_MS) return;
    this.#samples.push([now, bytes]);
    while (this.#samples.length > 2 && now - this.#samples[0]![0] > SPEED_WINDOW_MS) this.#samples.shift();
  }

  /** Bytes per second over the window; `undefined` in the first second (nothing honest to show yet). */
  rate(): number | undefined {
    if (this.#samples.length < 2) return undefined;
    const [t0, b0] = this.#samples[0]!;
    const [t1, b1] = this.#samples.at(-1)!;
    return t1 > t0 ? ((b1 - b0) / (t1 - t0)) * 1000 : undefined;
  }
}
