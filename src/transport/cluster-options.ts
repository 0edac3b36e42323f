/**
 * How to reach a Dragonfly cluster (`createDownloader({ cluster })`, the `transport:` block of
 * `dfget.yaml`): the option type and its key list, with no heavy imports (the config loader reads
 * the list).
 *
 * @module
 */
import type { ClusterCommonOptions } from './cluster-common.js';
import type { DfdaemonTransportOptions } from './dfdaemon/options.js';
import type { ProxyTransportOptions } from './proxy/options.js';

/**
 * How to reach a Dragonfly cluster (see `DownloaderOptions.cluster`): `endpoint` for the daemon
 * transport, or `proxy` for its HTTP proxy, with the options both take. `delivery` and
 * `idleTimeout` are the daemon transport's own, as {@link DfdaemonTransportOptions} describes them.
 */
export interface ClusterOptions
  extends ClusterCommonOptions, Pick<DfdaemonTransportOptions, 'delivery' | 'idleTimeout'> {
  /** The dfdaemon unix socket (dfget's `--endpoint`): a `DfdaemonTransport` with this `socketPath`. */
  endpoint?: DfdaemonTransportOptions['socketPath'];
  /** The daemon's HTTP proxy URL: a `ProxyTransport` through this `proxy`. */
  proxy?: ProxyTransportOptions['proxy'] | undefined;
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
