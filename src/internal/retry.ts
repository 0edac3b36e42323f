/**
 * The one retry policy of orasfly, used by the registry HTTP core and the piece conductor alike (as
 * oras-go's `retry/policy.go`): backoff data, the delay formula, `Retry-After`, and a retry loop.
 * Which errors are worth another attempt is one predicate, `isRetryable` in `errors.ts`. Pure
 * functions with injectable randomness, so the policy is testable without waiting.
 *
 * @module
 * @internal
 */
import { abortableDelay } from './abort.js';

/** Backoff of one retry loop (ms everywhere). */
export interface BackoffPolicy {
  /** First delay. */
  readonly minDelay: number;
  /** Largest delay. */
  readonly maxDelay: number;
  /** Growth per attempt. */
  readonly factor: number;
  /** Relative jitter: each delay is multiplied by a random factor in `[1 - jitter, 1 + jitter]`. */
  readonly jitter: number;
  /** Largest `Retry-After` honoured (only the HTTP layer sees one). */
  readonly maxRetryAfter: number;
}

/**
 * Parses `Retry-After` (delta-seconds or an HTTP-date) to ms from `now`; `undefined` when absent
 * or malformed. Dates in the past give 0.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  // Only accept real HTTP-dates (they contain "GMT"); Date.parse accepts far too much.
  if (!/GMT$/.test(s)) return undefined;
  const t = Date.parse(s);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/**
 * The delay before retry number `attempt` (0 = the first retry).
 *
 * Backoff is `minDelay * factor^attempt`, capped at `maxDelay`, times a random factor in
 * `[1 - jitter, 1 + jitter]`. A `Retry-After` answer replaces the backoff, capped at
 * `maxRetryAfter` (no jitter: the server asked for that moment).
 */
export function retryDelay(
  policy: BackoffPolicy,
  attempt: number,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxRetryAfter);
  const base = Math.min(policy.maxDelay, policy.minDelay * policy.factor ** attempt);
  const j = 1 - policy.jitter + 2 * policy.jitter * random();
  return Math.max(0, Math.round(base * j));
}

/** Waits `ms`, or rejects with the signal's reason at once (see internal/abort). */
export { abortableDelay as sleep } from './abort.js';

const exhausted = new WeakSet<object>();

/**
 * Marks an error as final after its own retry loop (the HTTP layer retried a request to the end):
 * an outer loop must not multiply the attempts (6 requests × 5 piece attempts = 30 waits).
 */
export function markRetriesExhausted<E>(e: E): E {
  if (typeof e === 'object' && e !== null) exhausted.add(e);
  return e;
}

/** Whether an inner retry loop already gave up on this error. */
export function retriesExhausted(e: unknown): boolean {
  return typeof e === 'object' && e !== null && exhausted.has(e);
}

/** How one retry loop behaves. */
export interface RetryLoop {
  /** Attempts in all (the first one included), ≥ 1. */
  attempts: number;
  policy: BackoffPolicy;
  /** Whether another attempt can help (default: `isRetryable` of `errors.ts`, passed by the caller). */
  retryable: (e: unknown) => boolean;
  /** Called before waiting for attempt `attempt + 1`. */
  onRetry?: ((info: { attempt: number; delayMs: number; error: unknown }) => void) | undefined;
  /**
   * Whether the attempt that just failed got somewhere (a stream that stored pieces before it broke):
   * the count then starts again, so only failures in a row without progress use up `attempts`.
   */
  progressed?: (() => boolean) | undefined;
  signal?: AbortSignal | undefined;
  random?: (() => number) | undefined;
}

/**
 * Runs `attempt(n)` until it succeeds, the error is not retryable, or the attempts are spent; waits
 * the policy's backoff between attempts. An abort rejects with the signal's reason at once.
 */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, loop: RetryLoop): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      if (loop.signal?.aborted) throw loop.signal.reason;
      if (!loop.retryable(e)) throw e;
      // Progress made: this failure is the first of a new run (attempt 1 next, the shortest wait).
      if (loop.progressed?.()) n = 0;
      else if (n + 1 >= loop.attempts) throw e;
      const delayMs = retryDelay(loop.policy, n, undefined, loop.random);
      loop.onRetry?.({ attempt: n + 1, delayMs, error: e });
      await abortableDelay(delayMs, loop.signal);
    }
  }
}
