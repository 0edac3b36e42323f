/**
 * The low-speed rule of one piece attempt (curl's `--speed-limit`/`--speed-time`): if fewer than
 * `limit × time` bytes arrive in any window of `time` — response headers that never come, a body
 * trickling at 1 byte/s — the attempt is aborted with a {@link StallError}, which the conductor
 * retries like a dropped connection and, after its retries, fails the task with.
 *
 * @module
 */
import { StallError } from '../core/errors.js';
import { abortableIterable } from '../internal/abort.js';

export { StallError };

/** Watches one attempt; `signal` aborts when the rule is broken. Call {@link StallWatch.stop} when the attempt ends. */
export class StallWatch {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout | undefined;
  #bytes = 0;

  /**
   * @param what - named in the error (`piece 7`).
   * @param limit - bytes per second; `0` turns the rule off.
   * @param windowMs - the window; `0` turns the rule off.
   */
  constructor(what: string, limit: number, windowMs: number) {
    if (limit > 0 && windowMs > 0) {
      const need = Math.max(1, Math.floor((limit * windowMs) / 1000));
      this.#timer = setInterval(() => {
        if (this.#bytes < need) {
          this.stop();
          this.#controller.abort(new StallError(what, this.#bytes, windowMs, limit));
        }
        this.#bytes = 0;
      }, windowMs);
      // The attempt's own I/O keeps the process alive; this timer must not.
      this.#timer.unref();
    }
  }

  /** Aborted with a {@link StallError} when the attempt stalls. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Counts bytes received. */
  add(n: number): void {
    this.#bytes += n;
  }

  /**
   * Wraps a body so that its chunks are counted, and so that a stall — or an abort of `signal` (the
   * attempt's cancellation) — ends the iteration even when the body itself ignores signals.
   */
  async *count(body: AsyncIterable<Uint8Array>, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const stop = signal ? AbortSignal.any([this.#controller.signal, signal]) : this.#controller.signal;
    for await (const chunk of abortableIterable(body, stop)) {
      this.#bytes += chunk.length;
      yield chunk;
    }
  }

  /** Ends the watch (idempotent). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}

/**
 * Runs one attempt under the low-speed rule: `f` gets a signal that also aborts when the bytes stop
 * coming, and a watch to count them with. A stalled attempt rejects with the {@link StallError},
 * whatever the transport made of the abort.
 */
export async function underWatch<T>(
  limit: number,
  windowMs: number,
  what: string,
  signal: AbortSignal,
  f: (signal: AbortSignal, watch: StallWatch) => Promise<T>,
): Promise<T> {
  const watch = new StallWatch(what, limit, windowMs);
  try {
    return await f(AbortSignal.any([signal, watch.signal]), watch);
  } catch (e) {
    if (watch.signal.aborted && !signal.aborted) throw watch.signal.reason;
    throw e;
  } finally {
    watch.stop();
  }
}
