/**
 * Options of the proxy transport: the type, its documented defaults and the resolver that checks
 * them (described once; the fields it shares with the daemon transport are in `cluster-common.ts`).
 *
 * @module
 */
import { parseDuration, type Duration } from '../../core/units.js';
import { InvalidArgumentError } from '../../core/errors.js';
import type { Priority } from '../dfdaemon/messages.js';
import { assertPriority, DEFAULT_CLUSTER_COMMON_OPTIONS, type ClusterCommonOptions } from '../cluster-common.js';

/** Options of a `ProxyTransport`. */
export interface ProxyTransportOptions extends ClusterCommonOptions {
  /** The daemon's proxy, `http://127.0.0.1:4001` (dfget's `--proxy-transport`): http(s), no credentials in it. */
  proxy: string;
  /**
   * Send the registry `Authorization` to a proxy that is neither on loopback nor HTTPS. Off: such a
   * proxy is not used for registries that need credentials (the origin serves, and the log says why).
   * @defaultValue false
   */
  allowCleartextCredentials?: boolean | undefined;
  /** Time to wait for the proxy's response headers. @defaultValue '30s' */
  headersTimeout?: Duration | undefined;
  /**
   * Whether Node loaded `NODE_EXTRA_CA_CERTS` at start-up (`OrasClientOptions.nodeExtraCaLoaded`):
   * an `https:` proxy is checked against Node's default store, that file included. @defaultValue true
   */
  nodeExtraCaLoaded?: boolean | undefined;
}

/** The defaults of {@link ProxyTransportOptions} (no `priority`: unset leaves it to the proxy). */
export const DEFAULT_PROXY_OPTIONS = Object.freeze({
  ...DEFAULT_CLUSTER_COMMON_OPTIONS,
  allowCleartextCredentials: false,
  headersTimeout: '30s' as Duration,
  nodeExtraCaLoaded: true,
});

/** {@link ProxyTransportOptions} after validation: the proxy parsed, durations in ms. */
export interface ResolvedProxyOptions {
  proxy: URL;
  priority: Priority | undefined;
  backToSource: boolean;
  allowCleartextCredentials: boolean;
  headersTimeout: number;
  nodeExtraCaLoaded: boolean;
}

/**
 * Validates and completes the options.
 * @throws InvalidArgumentError naming the first invalid option.
 */
export function resolveProxyOptions(o: ProxyTransportOptions): ResolvedProxyOptions {
  const D = DEFAULT_PROXY_OPTIONS;
  let proxy: URL;
  try {
    // `o?.`: a JavaScript caller may pass nothing; that is a bad proxy, not a TypeError.
    proxy = new URL(o?.proxy);
  } catch {
    throw new InvalidArgumentError('proxy', 'expected the URL of the daemon proxy, e.g. http://127.0.0.1:4001');
  }
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:')
    throw new InvalidArgumentError('proxy', `unsupported protocol ${proxy.protocol}`);
  if (proxy.username || proxy.password)
    throw new InvalidArgumentError('proxy', 'credentials in the proxy URL are not supported');
  if (o.priority !== undefined) assertPriority(o.priority);
  return {
    proxy,
    priority: o.priority,
    backToSource: o.backToSource ?? D.backToSource,
    allowCleartextCredentials: o.allowCleartextCredentials ?? D.allowCleartextCredentials,
    headersTimeout: parseDuration(o.headersTimeout ?? D.headersTimeout, 'headersTimeout'),
    nodeExtraCaLoaded: o.nodeExtraCaLoaded ?? D.nodeExtraCaLoaded,
  };
}
