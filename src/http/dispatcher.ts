/**
 * The undici dispatcher every registry request goes through: an `Agent` whose connector tells
 * plain and TLS timeouts apart, wrapped in a proxy agent when one is configured, with the trust
 * store (Node's roots, the system bundle, `NODE_EXTRA_CA_CERTS`, a CA file) built once, when the
 * narrow trust first fails to vouch for a server (up front through a proxy; see {@link TlsSettings}).
 * undici itself is passed in (`undici-modules.ts`, imported on demand): a run that sends nothing
 * through it — a reuse answered by the store, or by a direct request — never loads it (about 20 ms
 * of a reuse pull's start-up).
 *
 * @module
 */
import { createRequire } from 'node:module';
import type { Dispatcher, buildConnector as BuildConnector } from 'undici';
import type * as UndiciModules from './undici-modules.js';
import { nodeDefaultTrust, nodeExtraCaCertificates, systemCaCertificates, untrustedChain } from './tls-trust.js';
import type { DirectConnect } from './socket-get.js';

/** What the dispatcher is built from (durations in ms): the transport fields of the client's resolved options. */
export interface DispatcherOptions {
  readonly dispatcher?: Dispatcher | undefined;
  readonly dialTimeout: number;
  readonly tlsHandshakeTimeout: number;
  readonly keepAlive: number;
  readonly maxIdleConns: number;
  readonly idleConnTimeout: number;
  readonly responseHeaderTimeout: number;
  readonly proxy: string | undefined;
  readonly insecureSkipVerify: boolean;
  readonly systemCa: boolean;
  /** Whether Node's default store holds `NODE_EXTRA_CA_CERTS` (see `OrasClientOptions`). */
  readonly nodeExtraCaLoaded: boolean;
  readonly ca: string | undefined;
}

/**
 * Builds the undici dispatcher for resolved options (unless the caller injected one): an `Agent`
 * whose connector distinguishes plain and TLS timeouts, wrapped in `ProxyAgent` when `proxy` is set
 * or `EnvHttpProxyAgent` otherwise (which is a plain agent when no proxy variable is set).
 */
export function createDispatcher(
  o: DispatcherOptions,
  u: typeof UndiciModules,
  tls: TlsSettings = tlsSettings(o),
): Dispatcher {
  if (o.dispatcher) return o.dispatcher;
  const { agentClass, buildConnector, envHttpProxyAgentClass, proxyAgentClass } = u;
  const keepAliveOpts =
    o.keepAlive > 0 ? { keepAlive: true, keepAliveInitialDelay: o.keepAlive } : { keepAlive: false };
  const build = buildConnector();
  const plain = build({ timeout: o.dialTimeout, ...keepAliveOpts });
  let secure: BuildConnector.connector | undefined;
  let secureFull: BuildConnector.connector | undefined;
  const tlsTimeout = o.dialTimeout + o.tlsHandshakeTimeout;
  const viaFull = (full: TlsOptions, opts: BuildConnector.Options, cb: BuildConnector.Callback): void =>
    (secureFull ??= build({ timeout: tlsTimeout, ...keepAliveOpts, ...full }))(opts, cb);
  // The narrow trust first (see TlsSettings); the whole configured store only when the narrow one
  // cannot vouch for the server, and from then on for every new connection (a failed handshake
  // each time would buy nothing: the registry's chain does not change between connections).
  const connectTls: BuildConnector.connector = (opts, cb) => {
    const widened = tls.widened() ? tls.full() : undefined;
    if (widened) return viaFull(widened, opts, cb);
    (secure ??= build({ timeout: tlsTimeout, ...keepAliveOpts, ...tls.narrow() }))(opts, (err, socket) => {
      const full = err && untrustedChain(err) ? tls.full() : undefined;
      if (!full) return err ? cb(err, null) : cb(null, socket!);
      tls.widen();
      viaFull(full, opts, cb);
    });
  };
  const connect: BuildConnector.connector = (opts, cb) =>
    opts.protocol === 'https:' ? connectTls(opts, cb) : plain(opts, cb);
  const agentOpts = {
    connections: o.maxIdleConns,
    // Explicit, not undici's default (which undici 8 flips): registries are reached over HTTP/1.1,
    // and the CLI bundle ships without undici's HTTP/2 client.
    allowH2: false,
    pipelining: 1,
    keepAliveTimeout: o.idleConnTimeout,
    keepAliveMaxTimeout: o.idleConnTimeout,
    headersTimeout: o.responseHeaderTimeout,
    connect,
  };
  if (o.proxy === undefined && !proxyFromEnv()) return new (agentClass())(agentOpts);
  // Through a proxy, undici builds the tunnel's TLS options up front.
  const tunnelTls = { timeout: o.dialTimeout + o.tlsHandshakeTimeout, ...(tls.full() ?? tls.narrow()) };
  // An https proxy's own certificate is checked against Node's default store (an http proxy's
  // connection has no TLS: nothing is built for it).
  const proxyTls = {
    timeout: o.dialTimeout + o.tlsHandshakeTimeout,
    ...(httpsProxy(o) ? nodeDefaultTrust(o.nodeExtraCaLoaded) : {}),
  };
  if (o.proxy !== undefined)
    return new (proxyAgentClass())({ ...agentOpts, uri: o.proxy, requestTls: tunnelTls, proxyTls });
  return new (envHttpProxyAgentClass())({ ...agentOpts, requestTls: tunnelTls, proxyTls });
}

/** The TLS options of one connection attempt. */
export type TlsOptions = { rejectUnauthorized: boolean; secureContext?: import('node:tls').SecureContext };

/**
 * TLS settings of a client's connections, in two steps. `narrow()` trusts the smallest part of the
 * configured store that usually vouches for a registry: the `caFile` alone when one is given, Node's
 * default store otherwise (its roots and `NODE_EXTRA_CA_CERTS`) — cheap to set up. `full()` is the
 * whole store (Node's roots, the system bundle, `NODE_EXTRA_CA_CERTS`, `caFile`: ~170 certificates,
 * 25-40 ms to build), asked for only when the narrow trust could not vouch for a server; `undefined` when the
 * narrow trust already is all of it. Both only ever trust certificates the user configured, so the
 * second step never accepts what the whole store would refuse; it costs one more handshake, once: after
 * the narrow trust failed to vouch for a server ({@link TlsSettings.widen}), new connections, the
 * direct ones included, start from the whole store.
 */
export interface TlsSettings {
  narrow(): TlsOptions;
  full(): TlsOptions | undefined;
  /** Records that the narrow trust could not vouch for a server this client reaches. */
  widen(): void;
  /** Whether {@link TlsSettings.widen} was called: new connections then use `full()`. */
  widened(): boolean;
}

/** The memoised TLS settings for `o`: plain-HTTP pulls build nothing. */
export function tlsSettings(o: DispatcherOptions): TlsSettings {
  const reject = !o.insecureSkipVerify;
  let narrow: TlsOptions | undefined;
  let full: TlsOptions | undefined;
  let wide = false;
  const whole = (): TlsOptions => (full ??= { rejectUnauthorized: reject, ...trustedContext(o) });
  const widening = { widen: () => void (wide = true), widened: () => wide };
  // Nothing beyond Node's default store is configured (or nothing is verified): one step.
  if (!reject || onlyNodeStore(o)) return { narrow: whole, full: () => undefined, ...widening };
  return {
    ...widening,
    narrow: () => {
      if (narrow) return narrow;
      // Node's default store, NODE_EXTRA_CA_CERTS included: loaded by Node, or (the command kept
      // Node from loading it) read here, so a server only that file vouches for takes one step.
      if (o.ca === undefined) return (narrow = { rejectUnauthorized: true, ...nodeDefaultTrust(o.nodeExtraCaLoaded) });
      const tls = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
      return (narrow = { rejectUnauthorized: true, secureContext: tls.createSecureContext({ ca: o.ca }) });
    },
    full: whole,
  };
}

/** Whether the trust configured is Node's default store and nothing else (`systemCa: false`, no `caFile`). */
function onlyNodeStore(o: DispatcherOptions): boolean {
  return !o.systemCa && o.ca === undefined;
}

/**
 * How blob bodies may be read on connections of their own (`socket-get.ts`): with the dispatcher's
 * timeouts and TLS settings, or `undefined` when requests must go through the dispatcher — one the
 * caller injected, or a proxy (configured or from the environment).
 */
export function directConnect(o: DispatcherOptions, tls: TlsSettings): DirectConnect | undefined {
  if (o.dispatcher || o.proxy !== undefined || proxyFromEnv()) return undefined;
  return {
    dialTimeout: o.dialTimeout,
    tlsHandshakeTimeout: o.tlsHandshakeTimeout,
    headersTimeout: o.responseHeaderTimeout,
    // The narrow trust until it once failed to vouch for a server: a chain it cannot vouch for is
    // declined, undici's connector then tries the whole store (the answer and its error are
    // undici's) and widens the trust, so the next direct connection starts from the whole store.
    tls: () => (tls.widened() ? tls.full() : undefined) ?? tls.narrow(),
  };
}

/** Whether the proxy requests go through (configured, else from the environment) speaks TLS. */
function httpsProxy(o: DispatcherOptions): boolean {
  const env = process.env;
  const urls = o.proxy !== undefined ? [o.proxy] : [env['HTTPS_PROXY'], env['https_proxy'], proxyFromEnv()];
  return urls.some((u) => u !== undefined && /^https:/i.test(u.trim()));
}

function proxyFromEnv(): string | undefined {
  const env = process.env;
  return env['HTTP_PROXY'] ?? env['http_proxy'] ?? env['HTTPS_PROXY'] ?? env['https_proxy'];
}

/**
 * The secure context every TLS connection of a client shares: Node's roots, the system's bundle,
 * `NODE_EXTRA_CA_CERTS` and `caFile`, without duplicates (about 170 certificates on Debian; a
 * context of the 310 undeduplicated ones costs 40 ms instead of 23). Nothing when verification is
 * off; Node's default store when that is the answer ({@link nodeDefaultTrust}).
 */
function trustedContext(o: DispatcherOptions): { secureContext?: import('node:tls').SecureContext } {
  if (o.insecureSkipVerify) return {};
  if (onlyNodeStore(o)) return nodeDefaultTrust(o.nodeExtraCaLoaded);
  const req = createRequire(import.meta.url);
  const tls = req('node:tls') as typeof import('node:tls');
  const extra = o.systemCa ? [...systemCaCertificates().certificates, ...nodeExtraCaCertificates()] : [];
  const seen = new Set<string>();
  const ca: string[] = [];
  for (const pem of [...tls.rootCertificates, ...extra, ...(o.ca !== undefined ? [o.ca] : [])]) {
    const key = pem.replace(/-----[A-Z ]+-----|\s/g, '');
    if (seen.has(key)) continue;
    seen.add(key);
    ca.push(pem);
  }
  return { secureContext: tls.createSecureContext({ ca }) };
}
