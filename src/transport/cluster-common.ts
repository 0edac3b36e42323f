/**
 * The options both cluster transports take (the daemon over gRPC and its HTTP proxy), described
 * once: `DfdaemonTransportOptions`, `ProxyTransportOptions` and `ClusterOptions` extend them.
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { Priority } from './dfdaemon/messages.js';

/** What every cluster transport takes. */
export interface ClusterCommonOptions {
  /**
   * `false` = dfget's `--disable-back-to-source` (`disableBackToSource: true` in dfget.yaml):
   * orasfly does not ask the origin for what the cluster cannot serve, the task fails instead. The
   * daemon transport also tells the daemon not to go to the origin itself.
   * @defaultValue true
   */
  backToSource?: boolean | undefined;
  /**
   * `common.v2.Priority` of the task, 0–6 (LEVEL0 has no special meaning; LEVEL6 is the highest).
   * @defaultValue the daemon's own: the daemon transport sends 0 (LEVEL0, which protobuf leaves off
   * the wire), the proxy transport no `X-Dragonfly-Priority` (the proxy's default, LEVEL6)
   */
  priority?: Priority | undefined;
}

/** The defaults both cluster transports share (a priority default is each transport's own). */
export const DEFAULT_CLUSTER_COMMON_OPTIONS = Object.freeze({
  backToSource: true,
});

/**
 * Checks a `priority` option, for both transports alike.
 * @throws InvalidArgumentError (field `priority`) unless an integer 0–6.
 */
export function assertPriority(priority: unknown): asserts priority is Priority {
  if (!Number.isInteger(priority) || (priority as number) < 0 || (priority as number) > 6)
    throw new InvalidArgumentError('priority', 'expected an integer 0..6');
}
