/**
 * The two failures a Dragonfly transport (daemon or proxy) reports, and when each ends the task
 * rather than handing it to the origin.
 *
 * @module
 */
import { DaemonError, isRetryable, RegistryResponseError, type ResponseErrorInit } from '../core/errors.js';

/**
 * The cluster could not serve: the origin may (the conductor falls back), unless back-to-source is
 * disabled, in which case the error says so and is the task's answer.
 */
export function daemonFailure(
  message: string,
  backToSource: boolean,
  o: { grpcCode?: number | undefined; cause?: unknown } = {},
): DaemonError {
  return new DaemonError(`${message}${backToSource ? '' : '; back-to-source is disabled'}`, o.grpcCode, {
    ...(o.cause === undefined ? {} : { cause: o.cause }),
    final: !backToSource,
  });
}

/**
 * An HTTP status the cluster relays. When it is the origin's own answer (`fromOrigin`) and not worth
 * another try (a 4xx other than 408 and 429, as {@link isRetryable} rules), asking the origin again
 * would get the same: it is the task's answer. So is every relayed status when back-to-source is off.
 */
export function relayedStatusError(
  init: ResponseErrorInit,
  fromOrigin: boolean,
  backToSource: boolean,
): RegistryResponseError {
  const originsAnswer = fromOrigin && init.status >= 400 && !isRetryable(new RegistryResponseError(init));
  return new RegistryResponseError({ ...init, final: originsAnswer || !backToSource });
}
