/**
 * Options of {@link OrasResourceClient}: the seed's `oras:` transport block (Dragonfly's
 * `download.resourceClients.oras`) mapped onto undici, plus what a registry client needs beyond it.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Dispatcher } from 'undici';
import { InvalidArgumentError } from '../../core/errors.js';
import { VERSION } from '../../version.js';
import { parseDuration, type Duration } from '../../core/units.js';
import type { BackoffPolicy } from '../../internal/retry.js';
import { currentPlatform, type Platform } from './platform.js';

export type { Platform } from './platform.js';
export { DEFAULT_RETRY_ERROR_CODES, type RetryOptions } from './retry-options.js';
import { DEFAULT_RETRY_ERROR_CODES, type RetryOptions } from './retry-options.js';

/** Explicit registry credentials: a user name and password, or a ready bearer/identity token. */
export type RegistryCredential =
  | { readonly username: string; readonly password: string }
  | {
      /** An identity (refresh) token: sent to the token service, like docker's `identitytoken`. */
      readonly identityToken: string;
    }
  | {
      /** A registry access token sent as `Authorization: Bearer` without a token exchange. */
      readonly token: string;
    };

/** A credential source: a fixed credential, or a function of the registry host (`host[:port]`). */
export type CredentialsOption =
  | RegistryCredential
  | ((
      registry: string,
      options: { signal?: AbortSignal | undefined },
    ) => RegistryCredential | undefined | Promise<RegistryCredential | undefined>);

/**
 * Options of {@link OrasResourceClient}. One typed object; every field is optional and validated
 * at construction ({@link InvalidArgumentError} naming the field).
 *
 * The transport fields come from Dragonfly's `oras:` block. Differences from upstream:
 * TLS is **verified** by default (upstream never verifies); plain durations in ms are accepted as
 * well as Go strings; `HTTP(S)_PROXY`/`NO_PROXY` are honoured (upstream reads only `D7Y_SOURCE_PROXY`);
 * every option applies even when zero (upstream ignores non-positive values).
 */
export interface OrasClientOptions {
  /**
   * HTTP(S) proxy URL for every registry request (undici `ProxyAgent`; HTTPS targets are tunnelled
   * with CONNECT). When unset, `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` (and lower-case forms) from the
   * environment apply through undici's `EnvHttpProxyAgent`. @defaultValue undefined
   */
  proxy?: string | undefined;
  /**
   * TCP connect timeout (Go's `net.Dialer.Timeout`) → undici connector `timeout` for plain-HTTP
   * origins. @defaultValue 30 s
   */
  dialTimeout?: Duration | undefined;
  /**
   * TCP keep-alive probe delay (Go's `net.Dialer.KeepAlive`) → undici connector
   * `keepAliveInitialDelay`; `0` turns TCP keep-alive off. This is *not* HTTP connection reuse —
   * how long an idle pooled connection lives is {@link idleConnTimeout}. @defaultValue 30 s
   */
  keepAlive?: Duration | undefined;
  /**
   * Go's `MaxIdleConns` → undici `connections`, the most sockets per origin. undici has no separate
   * idle-pool cap: sockets stay pooled until {@link idleConnTimeout}. Pipelining stays at 1 (HTTP/1.1
   * pipelining is unsafe with registries and blob stores). @defaultValue 100
   */
  maxIdleConns?: number | undefined;
  /**
   * How long an idle pooled connection is kept (Go's `IdleConnTimeout`) → undici `keepAliveTimeout`
   * and `keepAliveMaxTimeout` (a server's shorter `Keep-Alive: timeout` hint still wins).
   * @defaultValue 90 s
   */
  idleConnTimeout?: Duration | undefined;
  /** Time to wait for response headers (Go's `ResponseHeaderTimeout`) → undici `headersTimeout`. @defaultValue 30 s */
  responseHeaderTimeout?: Duration | undefined;
  /**
   * Deadline of one metadata operation as a whole — `resolve()` (token, manifests, index) or a range
   * probe — retries and backoff included. Past it the operation fails with `TimeoutError`
   * (`ERR_ORASFLY_TIMEOUT`) however the registry stalls. `0` = no deadline. Blob bytes are governed
   * by the download's low-speed rule instead. @defaultValue 60 s
   */
  metadataTimeout?: Duration | undefined;
  /**
   * TLS handshake timeout (Go's `TLSHandshakeTimeout`). undici's connector times TCP connect and
   * TLS handshake together, so HTTPS origins get `dialTimeout + tlsHandshakeTimeout`.
   * @defaultValue 10 s
   */
  tlsHandshakeTimeout?: Duration | undefined;
  /**
   * Go's `ExpectContinueTimeout`. Accepted and validated for config compatibility; a no-op, because
   * we only send GET/HEAD and undici never sends `Expect: 100-continue` for them. @defaultValue 10 s
   */
  expectContinueTimeout?: Duration | undefined;
  /**
   * Skip TLS certificate verification → undici connect `rejectUnauthorized: false`. Upstream never
   * verifies; we do unless this is `true`. @defaultValue false
   */
  insecureSkipVerify?: boolean | undefined;
  /** PEM file of extra CA certificates, trusted in addition to the others. Read at construction. @defaultValue undefined */
  caFile?: string | undefined;
  /**
   * Trust the system's CA bundle (as Go tools do: `SSL_CERT_FILE`, else the distribution's bundle
   * such as `/etc/ssl/certs/ca-certificates.crt`; `SSL_CERT_DIR`) and `NODE_EXTRA_CA_CERTS`, in
   * addition to Node's bundled roots. Costs about 25 ms once per client, at its first TLS
   * connection (`docs/security.md`). `false`: Node's roots (and `caFile`) only. @defaultValue true
   */
  systemCa?: boolean | undefined;
  /**
   * Whether Node loaded `NODE_EXTRA_CA_CERTS` into its default trust store when this process
   * started. Node 20 does whenever the variable is set; the `orasfly` executable keeps it from doing
   * so, since that costs every start ~40 ms (`docs/security.md`), and sets this to `false`. Then
   * orasfly reads the variable's file itself wherever it would otherwise rely on Node's default
   * store. @defaultValue true
   */
  nodeExtraCaLoaded?: boolean | undefined;
  /**
   * `true`: talk plain HTTP to every registry. `false`: HTTPS everywhere. Unset: HTTPS, except that
   * a loopback registry (`localhost`, `127.0.0.0/8`, `::1`) which does not speak TLS at all is
   * reached over plain HTTP (docker and oras treat local registries so). TLS is tried first, and a
   * certificate problem never causes a fallback: a loopback TLS registry is verified like any other.
   * Upstream is HTTPS only. @defaultValue undefined
   */
  plainHttp?: boolean | undefined;
  /**
   * Credentials used before any docker config file. A function receives the registry `host[:port]`.
   * @defaultValue undefined (use docker/apptainer config files)
   */
  credentials?: CredentialsOption | undefined;
  /** How error messages name the `credentials` credential (the CLI: `--username with --password-stdin`). @defaultValue `'the credentials option'` */
  credentialsSource?: string | undefined;
  /**
   * The only credential files to read (docker `config.json` or containers `auth.json` format), as
   * oras's `--registry-config`: no default location is searched. `[]` reads none.
   * @defaultValue undefined (the containers, docker and apptainer files, in the order of `docs/security.md`)
   */
  registryConfig?: readonly string[] | undefined;
  /**
   * Docker config files to read instead of `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`;
   * the containers and apptainer files are still read. `[]` disables docker config lookup. @defaultValue undefined
   */
  dockerConfig?: readonly string[] | undefined;
  /** Home directory for `~/.docker`, `~/.apptainer`, `~/.singularity`. @defaultValue `$HOME` if absolute, else the passwd entry's; with neither, those files are not read */
  homeDir?: string | undefined;
  /** Timeout for one `docker-credential-<name> get` run. @defaultValue 10 s */
  credentialHelperTimeout?: Duration | undefined;
  /** Retry policy for GET/HEAD. Fields default individually. */
  retry?: RetryOptions | undefined;
  /** Redirects followed per request; more fail with `TOO_MANY_REDIRECTS` (blob stores need 1). @defaultValue 5 */
  maxRedirects?: number | undefined;
  /** Largest manifest accepted, in bytes (oras-go's `MaxMetadataBytes`). @defaultValue 4 MiB */
  maxManifestBytes?: number | undefined;
  /** Largest token-service response accepted, in bytes. @defaultValue 128 KiB */
  maxTokenBytes?: number | undefined;
  /** Platform chosen from an image index. @defaultValue the running platform (`process.platform`/`process.arch` in OCI names) */
  platform?: Platform | undefined;
  /**
   * Media type of the layer to pick when the manifest has no SIF layer. Mutually exclusive with
   * `layerIndex`. @defaultValue undefined
   */
  layerMediaType?: string | undefined;
  /** Index of the layer to pick when the manifest has no SIF layer (negative counts from the end). @defaultValue undefined */
  layerIndex?: number | undefined;
  /** `User-Agent` header. @defaultValue `orasfly/<version>` */
  userAgent?: string | undefined;
  /**
   * Your own undici `Dispatcher`. When set, every transport field above is ignored (the dispatcher
   * owns connections) and {@link OrasResourceClient.close} does not close it. @defaultValue undefined
   */
  dispatcher?: Dispatcher | undefined;
  /**
   * How long a tag's manifest digest, once seen, is trusted without asking the registry (shared by
   * every process of a store). A moved tag is seen only after this long. `0` (the default) asks
   * every time, with a `HEAD` when the manifest is known. Needs {@link OrasClientOptions.cache}.
   * @defaultValue 0
   */
  tagCacheTtl?: Duration | undefined;
  /**
   * Where manifests (by digest), tags and loopback schemes are remembered between runs; the
   * downloader passes its store's. Without it every resolve asks the registry.
   */
  cache?: RegistryMemory | undefined;
}

/**
 * What a client remembers of registries between runs (`StorageManager.registryCache` is one).
 * A miss is never an error: every method may answer `undefined` and every write may be lost.
 */
export interface RegistryMemory {
  manifest(digest: string): Promise<{ bytes: Uint8Array; mediaType: string } | undefined>;
  putManifest(digest: string, m: { bytes: Uint8Array; mediaType: string }): Promise<void>;
  tag(reference: string): Promise<{ digest: string; seenAt: number } | undefined>;
  putTag(reference: string, digest: string): Promise<void>;
  scheme(host: string): Promise<{ scheme: 'http' | 'https'; seenAt: number } | undefined>;
  putScheme(host: string, scheme: 'http' | 'https'): Promise<void>;
}

/** The defaults of {@link OrasClientOptions}, as documented per field. */
export const DEFAULT_ORAS_CLIENT_OPTIONS = Object.freeze({
  dialTimeout: '30s',
  keepAlive: '30s',
  maxIdleConns: 100,
  idleConnTimeout: '90s',
  responseHeaderTimeout: '30s',
  metadataTimeout: '60s',
  tlsHandshakeTimeout: '10s',
  expectContinueTimeout: '10s',
  insecureSkipVerify: false,
  systemCa: true,
  nodeExtraCaLoaded: true,
  credentialHelperTimeout: '10s',
  retry: Object.freeze({
    maxRetries: 5,
    minDelay: 200,
    maxDelay: 3000,
    factor: 2,
    jitter: 0.1,
    statusCodes: Object.freeze([408, 429, 500, 502, 503, 504]) as readonly number[],
    errorCodes: DEFAULT_RETRY_ERROR_CODES,
    maxRetryAfter: '30s',
  }),
  maxRedirects: 5,
  maxManifestBytes: 4 * 1024 * 1024,
  maxTokenBytes: 128 * 1024,
  userAgent: `orasfly/${VERSION}`,
  tagCacheTtl: 0,
} as const);

/** A fully resolved retry policy (ms everywhere): the shared backoff plus what HTTP retries. */
export interface ResolvedRetryPolicy extends BackoffPolicy {
  readonly maxRetries: number;
  readonly statusCodes: ReadonlySet<number>;
  readonly errorCodes: ReadonlySet<string>;
}

/** {@link OrasClientOptions} after validation: durations in ms, defaults filled, frozen. */
export interface ResolvedOrasClientOptions {
  readonly proxy: string | undefined;
  readonly dialTimeout: number;
  readonly keepAlive: number;
  readonly maxIdleConns: number;
  readonly idleConnTimeout: number;
  readonly responseHeaderTimeout: number;
  /** ms; 0 = none. */
  readonly metadataTimeout: number;
  readonly tlsHandshakeTimeout: number;
  readonly expectContinueTimeout: number;
  readonly insecureSkipVerify: boolean;
  readonly caFile: string | undefined;
  /** PEM text of `caFile`. */
  readonly ca: string | undefined;
  readonly systemCa: boolean;
  readonly nodeExtraCaLoaded: boolean;
  readonly plainHttp: boolean | undefined;
  readonly credentials: CredentialsOption | undefined;
  readonly credentialsSource: string | undefined;
  readonly registryConfig: readonly string[] | undefined;
  readonly dockerConfig: readonly string[] | undefined;
  readonly homeDir: string | undefined;
  readonly credentialHelperTimeout: number;
  readonly retry: ResolvedRetryPolicy;
  readonly maxRedirects: number;
  readonly maxManifestBytes: number;
  readonly maxTokenBytes: number;
  readonly platform: Platform;
  readonly layerMediaType: string | undefined;
  readonly layerIndex: number | undefined;
  readonly userAgent: string;
  readonly dispatcher: Dispatcher | undefined;
  /** ms; 0 = off. */
  readonly tagCacheTtl: number;
  readonly cache: RegistryMemory | undefined;
}

function positiveInt(v: unknown, field: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw new InvalidArgumentError(field, `expected an integer >= ${min}, got ${String(v)}`);
  return v;
}

function optString(v: unknown, field: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new InvalidArgumentError(field, 'expected a non-empty string');
  return v;
}

function optBool(v: unknown, field: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new InvalidArgumentError(field, `expected a boolean, got ${typeof v}`);
  return v;
}

function checkCredential(c: unknown, field: string): void {
  if (typeof c === 'function') return;
  const o = c as Record<string, unknown> | null;
  const ok =
    typeof o === 'object' &&
    o !== null &&
    ((typeof o['username'] === 'string' && typeof o['password'] === 'string') ||
      typeof o['token'] === 'string' ||
      typeof o['identityToken'] === 'string');
  // Never echo the value: it holds a secret.
  if (!ok)
    throw new InvalidArgumentError(
      field,
      'expected {username, password}, {token}, {identityToken} or a function of the registry host',
    );
}

/**
 * Every option name of {@link OrasClientOptions}, checked against the interface by the compiler: the
 * `dfget.yaml` loader accepts these names in its `oras:` block, so a new option is a config key
 * without touching the loader.
 */
export const ORAS_CLIENT_OPTION_KEYS: readonly string[] = Object.freeze(
  Object.keys({
    proxy: 1,
    dialTimeout: 1,
    keepAlive: 1,
    maxIdleConns: 1,
    idleConnTimeout: 1,
    responseHeaderTimeout: 1,
    metadataTimeout: 1,
    tlsHandshakeTimeout: 1,
    expectContinueTimeout: 1,
    insecureSkipVerify: 1,
    caFile: 1,
    systemCa: 1,
    nodeExtraCaLoaded: 1,
    plainHttp: 1,
    credentials: 1,
    credentialsSource: 1,
    registryConfig: 1,
    dockerConfig: 1,
    homeDir: 1,
    credentialHelperTimeout: 1,
    retry: 1,
    maxRedirects: 1,
    maxManifestBytes: 1,
    maxTokenBytes: 1,
    platform: 1,
    layerMediaType: 1,
    layerIndex: 1,
    userAgent: 1,
    dispatcher: 1,
    tagCacheTtl: 1,
    cache: 1,
  } satisfies Record<keyof OrasClientOptions, 1>),
);

/**
 * Validates options and fills defaults. Reads `caFile`.
 *
 * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) naming the first bad field.
 */
export function resolveOrasClientOptions(o: OrasClientOptions = {}): ResolvedOrasClientOptions {
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError('options', 'expected an object');
  const D = DEFAULT_ORAS_CLIENT_OPTIONS;
  const dur = (v: Duration | undefined, d: Duration, field: string): number => parseDuration(v ?? d, field);
  const proxy = optString(o.proxy, 'proxy');
  if (proxy !== undefined) {
    let u: URL;
    try {
      u = new URL(proxy);
    } catch {
      throw new InvalidArgumentError('proxy', 'not a URL');
    }
    // undici's ProxyAgent speaks HTTP CONNECT only; a SOCKS URL would fail later and less clearly.
    if (!['http:', 'https:'].includes(u.protocol))
      throw new InvalidArgumentError('proxy', `unsupported protocol ${u.protocol} (use an http:// or https:// proxy)`);
  }
  const caFile = optString(o.caFile, 'caFile');
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (e) {
      throw new InvalidArgumentError(
        'caFile',
        `cannot read ${caFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
        { cause: e },
      );
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----'))
      throw new InvalidArgumentError('caFile', `${caFile} holds no PEM certificate`);
  }
  if (o.credentials !== undefined) checkCredential(o.credentials, 'credentials');
  const fileList = (v: readonly string[] | undefined, field: string): readonly string[] | undefined => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((p) => typeof p !== 'string' || p === ''))
      throw new InvalidArgumentError(field, 'expected an array of file paths');
    return Object.freeze([...v]);
  };
  const registryConfig = fileList(o.registryConfig, 'registryConfig');
  // A named credential file that is missing is a typo, not a reason to pull anonymously.
  const missing = registryConfig?.find((p) => !existsSync(p));
  if (missing) throw new InvalidArgumentError('registryConfig', `${missing} does not exist (--registry-config)`);
  const dockerConfig = fileList(o.dockerConfig, 'dockerConfig');
  const r = o.retry ?? {};
  if (typeof r !== 'object' || r === null) throw new InvalidArgumentError('retry', 'expected an object');
  const factor = r.factor ?? D.retry.factor;
  if (typeof factor !== 'number' || !(factor >= 1) || !Number.isFinite(factor))
    throw new InvalidArgumentError('retry.factor', 'expected a number >= 1');
  const jitter = r.jitter ?? D.retry.jitter;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1))
    throw new InvalidArgumentError('retry.jitter', 'expected a number in [0, 1]');
  const statusCodes = r.statusCodes ?? D.retry.statusCodes;
  if (!Array.isArray(statusCodes) || statusCodes.some((s) => !Number.isInteger(s) || s < 100 || s > 599))
    throw new InvalidArgumentError('retry.statusCodes', 'expected HTTP status numbers');
  if (statusCodes.some((s) => s === 401 || s === 403 || s === 404))
    throw new InvalidArgumentError('retry.statusCodes', '401, 403 and 404 are never retried');
  const errorCodes = r.errorCodes ?? D.retry.errorCodes;
  if (!Array.isArray(errorCodes) || errorCodes.some((s) => typeof s !== 'string'))
    throw new InvalidArgumentError('retry.errorCodes', 'expected error code strings');
  const minDelay = dur(r.minDelay, D.retry.minDelay, 'retry.minDelay');
  const maxDelay = dur(r.maxDelay, D.retry.maxDelay, 'retry.maxDelay');
  if (maxDelay < minDelay) throw new InvalidArgumentError('retry.maxDelay', 'must be >= retry.minDelay');
  const retry: ResolvedRetryPolicy = Object.freeze({
    maxRetries: positiveInt(r.maxRetries ?? D.retry.maxRetries, 'retry.maxRetries', 0),
    minDelay,
    maxDelay,
    factor,
    jitter,
    statusCodes: new Set(statusCodes),
    errorCodes: new Set(errorCodes),
    maxRetryAfter: dur(r.maxRetryAfter, D.retry.maxRetryAfter, 'retry.maxRetryAfter'),
  });
  let platform = currentPlatform();
  if (o.platform !== undefined) {
    const p = o.platform as unknown as Record<string, unknown>;
    if (
      typeof p !== 'object' ||
      p === null ||
      typeof p['os'] !== 'string' ||
      typeof p['architecture'] !== 'string' ||
      (p['variant'] !== undefined && typeof p['variant'] !== 'string')
    )
      throw new InvalidArgumentError('platform', 'expected {os, architecture, variant?} strings');
    platform = Object.freeze({
      os: p['os'] as string,
      architecture: p['architecture'] as string,
      variant: p['variant'] as string | undefined,
    });
  }
  const layerMediaType = optString(o.layerMediaType, 'layerMediaType');
  let layerIndex: number | undefined;
  if (o.layerIndex !== undefined) {
    if (!Number.isSafeInteger(o.layerIndex)) throw new InvalidArgumentError('layerIndex', 'expected an integer');
    layerIndex = o.layerIndex;
  }
  if (layerMediaType !== undefined && layerIndex !== undefined)
    throw new InvalidArgumentError('layerIndex', 'give layerMediaType or layerIndex, not both');
  const dispatcher = o.dispatcher;
  if (
    dispatcher !== undefined &&
    (typeof dispatcher !== 'object' || dispatcher === null || typeof (dispatcher as Dispatcher).dispatch !== 'function')
  )
    throw new InvalidArgumentError('dispatcher', 'expected an undici Dispatcher');
  const userAgent = optString(o.userAgent, 'userAgent') ?? D.userAgent;
  if (/[\r\n]/.test(userAgent)) throw new InvalidArgumentError('userAgent', 'must not contain line breaks');
  return Object.freeze({
    proxy,
    dialTimeout: dur(o.dialTimeout, D.dialTimeout, 'dialTimeout'),
    keepAlive: dur(o.keepAlive, D.keepAlive, 'keepAlive'),
    maxIdleConns: positiveInt(o.maxIdleConns ?? D.maxIdleConns, 'maxIdleConns'),
    idleConnTimeout: dur(o.idleConnTimeout, D.idleConnTimeout, 'idleConnTimeout'),
    responseHeaderTimeout: dur(o.responseHeaderTimeout, D.responseHeaderTimeout, 'responseHeaderTimeout'),
    metadataTimeout: dur(o.metadataTimeout, D.metadataTimeout, 'metadataTimeout'),
    tlsHandshakeTimeout: dur(o.tlsHandshakeTimeout, D.tlsHandshakeTimeout, 'tlsHandshakeTimeout'),
    expectContinueTimeout: dur(o.expectContinueTimeout, D.expectContinueTimeout, 'expectContinueTimeout'),
    insecureSkipVerify: optBool(o.insecureSkipVerify, 'insecureSkipVerify') ?? D.insecureSkipVerify,
    caFile,
    ca,
    systemCa: optBool(o.systemCa, 'systemCa') ?? D.systemCa,
    nodeExtraCaLoaded: optBool(o.nodeExtraCaLoaded, 'nodeExtraCaLoaded') ?? D.nodeExtraCaLoaded,
    plainHttp: optBool(o.plainHttp, 'plainHttp'),
    credentials: o.credentials,
    credentialsSource: optString(o.credentialsSource, 'credentialsSource'),
    registryConfig,
    dockerConfig,
    homeDir: optString(o.homeDir, 'homeDir'),
    credentialHelperTimeout: dur(o.credentialHelperTimeout, D.credentialHelperTimeout, 'credentialHelperTimeout'),
    retry,
    maxRedirects: positiveInt(o.maxRedirects ?? D.maxRedirects, 'maxRedirects', 0),
    maxManifestBytes: positiveInt(o.maxManifestBytes ?? D.maxManifestBytes, 'maxManifestBytes'),
    maxTokenBytes: positiveInt(o.maxTokenBytes ?? D.maxTokenBytes, 'maxTokenBytes'),
    platform,
    layerMediaType,
    layerIndex,
    userAgent,
    dispatcher,
    tagCacheTtl: dur(o.tagCacheTtl, D.tagCacheTtl, 'tagCacheTtl'),
    cache: o.cache,
  });
}
