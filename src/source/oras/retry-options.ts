/**
 * The retry block of the registry client's options (`oras.retry`): what a user may set, and the
 * socket errors retried by default. The policy itself is `internal/retry.ts`.
 *
 * @module
 */
import type { Duration } from '../../core/units.js';

/** Retry policy for GET/HEAD requests. Durations are Go strings or ms. */
export interface RetryOptions {
  /** Retries after the first attempt. 0 disables retries. @defaultValue 5 */
  maxRetries?: number;
  /** First backoff delay. @defaultValue 200 ms */
  minDelay?: Duration;
  /** Largest backoff delay. @defaultValue 3 s */
  maxDelay?: Duration;
  /** Backoff growth per attempt. @defaultValue 2 */
  factor?: number;
  /** Relative jitter: each delay is multiplied by a random factor in `[1 - jitter, 1 + jitter]`. @defaultValue 0.1 */
  jitter?: number;
  /** HTTP statuses that are retried. @defaultValue [408, 429, 500, 502, 503, 504] */
  statusCodes?: readonly number[];
  /**
   * Error `code`s (socket/undici) that are retried. @defaultValue resets, refusals, timeouts
   * (`ECONNRESET`, `ECONNREFUSED`, `EPIPE`, `ETIMEDOUT`, `EAI_AGAIN`, `EHOSTUNREACH`, `ENETUNREACH`
   * and undici's socket, connect, headers, body and closed errors). Not `ENOTFOUND`: a name that
   * does not exist is a typo, and retrying it cost 6 s; `EAI_AGAIN` (a resolver hiccup) is retried.
   */
  errorCodes?: readonly string[];
  /**
   * Largest `Retry-After` honoured. A server asking for a longer wait fails the request at once
   * (`RETRY_AFTER_TOO_LONG`) instead of holding the pull. @defaultValue 30 s
   */
  maxRetryAfter?: Duration;
}

/** Socket-level error codes retried by default: resets, refusals, DNS hiccups and undici timeouts. */
export const DEFAULT_RETRY_ERROR_CODES: readonly string[] = Object.freeze([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);
