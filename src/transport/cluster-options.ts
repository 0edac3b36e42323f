/**
 * How to reach a Dragonfly cluster (`createDownloader({ cluster })`, the `transport:` block of
 * `dfget.yaml`): the option type and its key list, with no heavy imports (the config loader reads
 * the list).
 *
 * @module
 */
import type { Duration } from '../core/units.js';
import type { DfdaemonDelivery } from './dfdaemon/options.js';
import type { Priority } from './dfdaemon/messages.js';

/** How to reach a Dragonfly cluster (see `DownloaderOptions.cluster`). */
export interface ClusterOptions {
  /** The dfdaemon unix socket: a `DfdaemonTransport`. */
  endpoint?: string | undefined;
  /** The dfdaemon HTTP proxy URL: a `ProxyTransport`. */
  proxy?: string | undefined;
  /** `false` = dfget's `--disable-back-to-source` (`disableBackToSource: true` in dfget.yaml). @defaultValue true */
  backToSource?: boolean | undefined;
  /** Daemon transport: how the bytes come back. @defaultValue 'auto' */
  delivery?: DfdaemonDelivery | undefined;
  /** Daemon transport: stream idle limit. @defaultValue '30s' */
  idleTimeout?: Duration | undefined;
  /** `common.v2.Priority`, 0–6. */
  priority?: Priority | undefined;
}

/** Every option name of {@link ClusterOptions}, checked against the interface by the compiler. */
export const CLUSTER_OPTION_KEYS: readonly string[] = Object.freeze(
  Object.keys({
    endpoint: 1,
    proxy: 1,
    backToSource: 1,
    delivery: 1,
    idleTimeout: 1,
    priority: 1,
  } satisfies Record<keyof ClusterOptions, 1>),
);
