/**
 * Retry delay math and an abortable sleep. Pure functions with injectable clock and randomness,
 * so the policy is testable without waiting.
 *
 * @module
 */
import type { ResolvedRetryPolicy } from './options.js';

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
export function retryDelay(policy: Pick<ResolvedRetryPolicy, 'minDelay' | 'maxDelay' | 'factor' | 'jitter' | 'maxRetryAfter'>, attempt: number, retryAfterMs?: number, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxRetryAfter);
  const base = Math.min(policy.maxDelay, policy.minDelay * policy.factor ** attempt);
  const j = 1 - policy.jitter + 2 * policy.jitter * random();
  return Math.max(0, Math.round(base * j));
}

/** Waits `ms`, or rejects with the signal's reason at once (see internal/abort). */
export { abortableDelay as sleep } from '../../internal/abort.js';
