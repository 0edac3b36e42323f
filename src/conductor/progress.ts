/**
 * Progress of one task: bytes verified and stored plus bytes of pieces still arriving (so progress
 * moves inside a 15 MiB piece on a slow link), emitted at most every `intervalMs`, never going back
 * (a failed piece's bytes leave the count, but what was shown stays), and ending with one 100 %.
 *
 * @module
 */
import type { ProgressEvent } from './events.js';
import { monotonicMs } from '../internal/clock.js';

/** Throttled, monotonic progress. */
export class ProgressMeter {
  readonly #taskId: string;
  readonly #total: number;
  readonly #intervalMs: number;
  readonly #emit: (p: ProgressEvent) => void;
  /** Bytes of completed pieces. */
  #stored = 0;
  /** Bytes of pieces still arriving. */
  #inflight = 0;
  #lastEmitted = 0;
  // The first event goes out at once, however soon after the process started.
  #lastAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #ended = false;

  constructor(taskId: string, total: number, intervalMs: number, emit: (p: ProgressEvent) => void) {
    this.#taskId = taskId;
    this.#total = total;
    this.#intervalMs = intervalMs;
    this.#emit = emit;
  }

  /** Bytes verified and stored so far. */
  get stored(): number {
    return this.#stored;
  }

  /** Bytes of a piece that was already complete (resume). */
  addStored(n: number): void {
    this.#stored += n;
  }

  /** Bytes of an unfinished piece arrived. */
  arriving(n: number): void {
    this.#inflight += n;
    this.#tick();
  }

  /** Bytes counted by {@link arriving} that will not complete (the piece failed or was abandoned). */
  forget(n: number): void {
    this.#inflight -= n;
  }

  /** A piece of `length` bytes completed; `counted` of them were reported by {@link arriving}. */
  pieceStored(length: number, counted: number): void {
    this.#inflight -= counted;
    this.#stored += length;
    this.#tick();
  }

  /** The final 100 % (once). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    this.#send(true);
  }

  /** Stops the throttle timer without a final event (failure). */
  stop(): void {
    this.#ended = true;
    clearTimeout(this.#timer);
  }

  #tick(): void {
    if (this.#ended || this.#timer) return;
    const wait = this.#intervalMs - (monotonicMs() - this.#lastAt);
    if (wait <= 0) this.#send(false);
    else
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (!this.#ended) this.#send(false);
      }, wait);
  }

  #send(final: boolean): void {
    this.#lastAt = monotonicMs();
    const total = this.#total;
    const transferred = final ? total : Math.min(total, Math.max(this.#lastEmitted, this.#stored + this.#inflight));
    // 100 % is said once, by end(), after the blob's digest is checked; until then the bytes are not done.
    if (!final && transferred === total && total > 0) return;
    this.#lastEmitted = transferred;
    this.#emit({
      taskId: this.#taskId,
      transferred,
      total,
      percent: total === 0 ? 100 : Math.floor((transferred / total) * 10000) / 100,
    });
  }
}
