/**
 * Dragonfly's failure line, `peer task failed, code: <commonv1.Code>, reason: <message>`, under one
 * rule wherever a task fails (resolve, lock, conductor, output), so that log readers and dfget's
 * tooling see one code for one kind of failure.
 *
 * @module
 */
import { OrasflyError, TaskFailedError } from '../core/errors.js';
import type { CoreLogger } from './core-log.js';
import { redact } from '../http/redact.js';

/** Dragonfly's `commonv1.Code` for a failure: 4008 (back-source error) for a registry answer, else 4000. */
export function dragonflyCode(e: unknown): number {
  if (e instanceof TaskFailedError) return e.dfCode;
  return e instanceof OrasflyError && e.code === 'ERR_ORASFLY_REGISTRY_RESPONSE' ? 4008 : 4000;
}

/** Writes the failure line of `error` to `log` (already scoped to the task's fields). */
export function logTaskFailure(log: CoreLogger, error: unknown): void {
  // A message may quote a URL with a token in its query: core.log never holds it.
  const reason = redact(error instanceof Error ? error.message : String(error));
  log.error(`peer task failed, code: ${dragonflyCode(error)}, reason: ${reason}`);
}
