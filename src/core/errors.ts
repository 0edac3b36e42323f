/**
 * Every error orasfly throws is an {@link OrasflyError} with a stable `code` (`ERR_ORASFLY_*`).
 * Match on `code` (or `instanceof`, which survives duplicated installs thanks to a brand check,
 * as undici does). Aborts are the exception: they reject with the signal's `reason` untouched.
 *
 * @module
 */
import { quote, stripUserinfo } from './describe.js';

/** All stable error codes. New codes may be added in minor versions; existing ones never change. */
export type OrasflyErrorCode =
  | 'ERR_ORASFLY_INVALID_ARGUMENT'
  | 'ERR_ORASFLY_INVALID_REFERENCE'
  | 'ERR_ORASFLY_CONFIG'
  | 'ERR_ORASFLY_CREDENTIALS'
  | 'ERR_ORASFLY_AUTH'
  | 'ERR_ORASFLY_REGISTRY_RESPONSE'
  | 'ERR_ORASFLY_MANIFEST'
  | 'ERR_ORASFLY_SIZE_LIMIT'
  | 'ERR_ORASFLY_TLS'
  | 'ERR_ORASFLY_NETWORK'
  | 'ERR_ORASFLY_TIMEOUT'
  | 'ERR_ORASFLY_RANGE_NOT_SUPPORTED'
  | 'ERR_ORASFLY_DIGEST_MISMATCH'
  | 'ERR_ORASFLY_SIZE_MISMATCH'
  | 'ERR_ORASFLY_STORAGE'
  | 'ERR_ORASFLY_STORAGE_QUOTA'
  | 'ERR_ORASFLY_LOCK'
  | 'ERR_ORASFLY_TASK_FAILED'
  | 'ERR_ORASFLY_UNSUPPORTED'
  | 'ERR_ORASFLY_DAEMON'
  | 'ERR_ORASFLY_CLOSED'
  /** CLI only: the pull was cancelled (Ctrl-C, SIGTERM). The library rejects with the signal's reason instead. */
  | 'ERR_ORASFLY_ABORTED'
  /** CLI only: a failure that is not an {@link OrasflyError} (a bug: please report it). */
  | 'ERR_ORASFLY_INTERNAL';

/**
 * A coarse class of failure that scripts and hosts can branch on, the same for library and CLI
 * users (several HTTP statuses share one `code`; `kind` tells a 404 from a 500):
 * - `not-found` (404), `unauthorized` (401/403, credential sources), `rate-limited` (429),
 *   `server-error` (5xx);
 * - `tls`, `timeout`, `network`, `integrity` (digest or size mismatch), `usage` (bad argument,
 *   reference or config), `storage`, `cluster` (a Dragonfly daemon or proxy);
 * - `aborted` (only the CLI: Ctrl-C, SIGTERM), `other`.
 */
export type OrasflyErrorKind =
  | 'not-found'
  | 'unauthorized'
  | 'rate-limited'
  | 'server-error'
  | 'tls'
  | 'timeout'
  | 'network'
  | 'integrity'
  | 'usage'
  | 'storage'
  | 'aborted'
  | 'cluster'
  | 'other';

/** Options of every orasfly error: the standard `cause`, and {@link OrasflyError.final}. */
export interface OrasflyErrorOptions extends ErrorOptions {
  /** The task's answer: see {@link OrasflyError.final}. @defaultValue false */
  final?: boolean | undefined;
}

const brand = (name: string): symbol => Symbol.for(`orasfly.error.${name}`);

/**
 * Base class of every orasfly error.
 *
 * @example
 * ```ts
 * import { OrasResourceClient, OrasflyError } from 'orasfly';
 *
 * const client = new OrasResourceClient();
 * try {
 *   await client.resolve('oras://bad');
 * } catch (e) {
 *   if (e instanceof OrasflyError && e.code === 'ERR_ORASFLY_INVALID_REFERENCE') console.error(e.message);
 *   else throw e;
 * } finally {
 *   await client.close();
 * }
 * ```
 */
export class OrasflyError extends Error {
  /** Stable machine-readable code. */
  readonly code: OrasflyErrorCode;
  /**
   * `true` when this error is the task's answer and no other source is asked instead: the origin's
   * own answer relayed by a Dragonfly daemon or proxy (a 404, a 401), or any cluster failure when
   * back-to-source is disabled. `false` for everything else, including a cluster failure the
   * origin was then asked to make up for.
   */
  readonly final: boolean;

  constructor(code: OrasflyErrorCode, message: string, options?: OrasflyErrorOptions) {
    super(message, options);
    this.code = code;
    this.final = options?.final ?? false;
    this.name = new.target.name;
    // Brand every class of the chain so `instanceof` works across duplicate copies of the package.
    for (let c: unknown = new.target; c && c !== Error; c = Object.getPrototypeOf(c)) {
      const name = (c as { name: string }).name;
      Object.defineProperty(this, brand(name), { value: true });
    }
  }

  /**
   * The class of failure (see {@link OrasflyErrorKind}): from the HTTP status for a registry's
   * answer, from the cause for a {@link TaskFailedError}, else from `code`.
   */
  get kind(): OrasflyErrorKind {
    return errorKind(this);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && brand(this.name) in value;
  }
}

/** An option or argument has a wrong type or value. `field` names it. */
export class InvalidArgumentError extends OrasflyError {
  /** The option or argument at fault, e.g. `storage.diskGCThreshold`. */
  readonly field: string;
  constructor(field: string, message: string, options?: ErrorOptions) {
    super('ERR_ORASFLY_INVALID_ARGUMENT', `invalid ${field}: ${message}`, options);
    this.field = field;
  }
}

/** A reference (`oras://host/repo:tag`) could not be parsed. Thrown before any network request. */
export class InvalidReferenceError extends OrasflyError {
  /** The offending input, with any userinfo stripped. */
  readonly reference: string;
  constructor(reference: string, reason: string) {
    const shown = stripUserinfo(reference);
    super('ERR_ORASFLY_INVALID_REFERENCE', `invalid reference ${quote(shown, 200)}: ${reason}`);
    this.reference = shown;
  }
}

/** A configuration file or value is invalid. `file` and `key` say where. */
export class ConfigError extends OrasflyError {
  readonly file: string | undefined;
  readonly key: string | undefined;
  constructor(message: string, where: { file?: string; key?: string } = {}, options?: ErrorOptions) {
    const at = [where.file, where.key].filter(Boolean).join(': ');
    super('ERR_ORASFLY_CONFIG', at ? `${at}: ${message}` : message, options);
    this.file = where.file;
    this.key = where.key;
  }
}

/** A credential source (docker config, credential helper) is unreadable or malformed. */
export class CredentialsError extends OrasflyError {
  /** The file or helper at fault. Never the secret itself. */
  readonly source: string;
  constructor(source: string, message: string, options?: ErrorOptions) {
    super('ERR_ORASFLY_CREDENTIALS', `${source}: ${message}`, options);
    this.source = source;
  }
}

/** One entry of a distribution-spec error body (`{"errors":[{code,message,detail}]}`). */
export interface RegistryErrorDetail {
  code: string;
  message?: string;
  detail?: unknown;
}

/** Fields shared by errors that come from an HTTP response. */
export interface ResponseErrorInit {
  method: string;
  /** URL without credentials or query secrets. */
  url: string;
  status: number;
  errors?: RegistryErrorDetail[];
  cause?: unknown;
  /** What the user can do about it (log in, which credential was rejected), appended after `; `. */
  hint?: string | undefined;
  /** See {@link OrasflyError.final}. */
  final?: boolean | undefined;
}

/** The registry answered with an unexpected HTTP status. Carries the distribution error codes. */
export class RegistryResponseError extends OrasflyError {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  /** Distribution-spec error entries from the body, if any. */
  readonly errors: readonly RegistryErrorDetail[];
  /** What the user can do about it, when orasfly knows (also the end of the message). */
  readonly hint: string | undefined;
  constructor(init: ResponseErrorInit, code: OrasflyErrorCode = 'ERR_ORASFLY_REGISTRY_RESPONSE') {
    const first = init.errors?.[0];
    const what = first ? `${first.code}${first.message ? `: ${first.message}` : ''}` : 'unexpected status';
    super(code, `${init.method} ${init.url} → ${init.status} ${what}${init.hint ? `; ${init.hint}` : ''}`, {
      cause: init.cause,
      final: init.final,
    });
    this.method = init.method;
    this.url = init.url;
    this.status = init.status;
    this.errors = init.errors ?? [];
    this.hint = init.hint;
  }
  /** The first distribution error code (`BLOB_UNKNOWN`, `DENIED`, …), if the body had one. */
  get registryCode(): string | undefined {
    return this.errors[0]?.code;
  }
}

/** Authentication failed (401/403 after the challenge was answered, or the token service failed). */
export class AuthError extends RegistryResponseError {
  constructor(init: ResponseErrorInit) {
    super(init, 'ERR_ORASFLY_AUTH');
  }
}

/** A manifest is malformed, of an unsupported type, or has no usable layer. */
export class ManifestError extends OrasflyError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_ORASFLY_MANIFEST', message, options);
  }
}

/** A body (manifest, token, …) exceeded its size limit. */
export class SizeLimitError extends OrasflyError {
  readonly limit: number;
  constructor(what: string, limit: number) {
    super('ERR_ORASFLY_SIZE_LIMIT', `${what} exceeds the limit of ${limit} bytes`);
    this.limit = limit;
  }
}

/** TLS failed: untrusted certificate, hostname mismatch, handshake error. */
export class TlsError extends OrasflyError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_ORASFLY_TLS', message, options);
  }
}

/** A connection-level failure (refused, reset, DNS) that survived the retry policy. */
export class NetworkError extends OrasflyError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_ORASFLY_NETWORK', message, options);
  }
}

/** An operation ran past its `timeout`. */
export class TimeoutError extends OrasflyError {
  readonly timeoutMs: number;
  /** @param hint - what the user should know next (what was kept or removed), appended after `; `. */
  constructor(timeoutMs: number, what = 'operation', hint?: string) {
    super('ERR_ORASFLY_TIMEOUT', `${what} timed out after ${timeoutMs} ms${hint ? `; ${hint}` : ''}`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A piece attempt (or the sequential stream) received too few bytes in a window of the low-speed
 * rule (`download.lowSpeedLimit`/`lowSpeedTime`). Retried like a dropped connection.
 */
export class StallError extends OrasflyError {
  /** Bytes received in the window that broke the rule. */
  readonly bytes: number;
  /** The window, ms. */
  readonly windowMs: number;
  constructor(what: string, bytes: number, windowMs: number, limit: number) {
    super(
      'ERR_ORASFLY_TIMEOUT',
      `${what} stalled: ${bytes} bytes in ${windowMs / 1000} s, below download.lowSpeedLimit ` +
        `of ${limit} B/s (raise download.lowSpeedTime or lower download.lowSpeedLimit for very slow links)`,
    );
    this.bytes = bytes;
    this.windowMs = windowMs;
  }
}

/** The server ignored a `Range` request (answered 200 or a wrong `Content-Range`). */
export class RangeNotSupportedError extends OrasflyError {
  constructor(message: string) {
    super('ERR_ORASFLY_RANGE_NOT_SUPPORTED', message);
  }
}

/** Bytes did not hash to the expected digest. Nothing unverified was kept. */
export class DigestMismatchError extends OrasflyError {
  readonly expected: string;
  readonly actual: string;
  constructor(expected: string, actual: string, what = 'content') {
    super('ERR_ORASFLY_DIGEST_MISMATCH', `${what} digest mismatch: expected ${expected}, got ${actual}`);
    this.expected = expected;
    this.actual = actual;
  }
}

/** A body was shorter or longer than declared. */
export class SizeMismatchError extends OrasflyError {
  readonly expected: number;
  readonly actual: number;
  constructor(expected: number, actual: number, what = 'content') {
    super('ERR_ORASFLY_SIZE_MISMATCH', `${what} size mismatch: expected ${expected} bytes, got ${actual}`);
    this.expected = expected;
    this.actual = actual;
  }
}

/** A filesystem operation of the task store failed. `path` names the file, `cause` the errno. */
export class StorageError extends OrasflyError {
  readonly path: string | undefined;
  constructor(message: string, path?: string, options?: ErrorOptions) {
    super('ERR_ORASFLY_STORAGE', message, options);
    this.path = path;
  }
}

/** The store cannot make room (disk full, quota reached with nothing reclaimable). */
export class StorageQuotaError extends OrasflyError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_ORASFLY_STORAGE_QUOTA', message, options);
  }
}

/** A task lock could not be acquired. */
export class LockError extends OrasflyError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_ORASFLY_LOCK', message, options);
  }
}

/** A peer task failed; `cause` holds the underlying error, `dfCode` the Dragonfly code. */
export class TaskFailedError extends OrasflyError {
  readonly taskId: string;
  /** Dragonfly `commonv1.Code` equivalent (4000 client error, 4008 back-source error, …). */
  readonly dfCode: number;
  constructor(taskId: string, dfCode: number, reason: string, options?: ErrorOptions) {
    super('ERR_ORASFLY_TASK_FAILED', `peer task failed: ${dfCode}/${reason}`, options);
    this.taskId = taskId;
    this.dfCode = dfCode;
  }
}

/** Something valid but not supported (a scheme, a media type). */
export class UnsupportedError extends OrasflyError {
  constructor(message: string) {
    super('ERR_ORASFLY_UNSUPPORTED', message);
  }
}

/**
 * A Dragonfly daemon (or its proxy) could not serve a task: unreachable, unhealthy, stalled, or
 * failing with a gRPC status. Without `--disable-back-to-source` the conductor fetches from the
 * origin instead and this is only logged; with it, this is the task's error.
 */
export class DaemonError extends OrasflyError {
  /** The gRPC status code (14 UNAVAILABLE, 8 RESOURCE_EXHAUSTED, …), when the daemon answered. */
  readonly grpcCode: number | undefined;
  constructor(message: string, grpcCode?: number, options?: OrasflyErrorOptions) {
    super('ERR_ORASFLY_DAEMON', message, options);
    this.grpcCode = grpcCode;
  }
}

/** A method was called on an object that was closed (a client, a store, a task writer). */
export class ClosedError extends OrasflyError {
  /** What was closed: `OrasResourceClient`, `StorageManager`, … */
  readonly what: string;
  constructor(what: string, detail?: string) {
    super('ERR_ORASFLY_CLOSED', `${what} is closed${detail ? ` (${detail})` : ''}`);
    this.what = what;
  }
}

/**
 * Whether another attempt can help: connection failures, timeouts and stalls, short bodies, and
 * registry answers 408, 429 and 5xx (not a `Retry-After` longer than we wait). Bad bytes, auth,
 * missing blobs, bad input, full disks are final. Errors that are not orasfly's (a custom transport's)
 * are retried. The one predicate of the retry policy (`internal/retry.ts`).
 */
export function isRetryable(e: unknown): boolean {
  if (!(e instanceof OrasflyError)) return true;
  switch (e.code) {
    case 'ERR_ORASFLY_NETWORK':
    case 'ERR_ORASFLY_TIMEOUT':
    case 'ERR_ORASFLY_SIZE_MISMATCH':
      return true;
    case 'ERR_ORASFLY_REGISTRY_RESPONSE': {
      const r = e as RegistryResponseError;
      if (
        r.registryCode === 'RETRY_AFTER_TOO_LONG' ||
        r.registryCode === 'BAD_REDIRECT' ||
        r.registryCode === 'TOO_MANY_REDIRECTS'
      )
        return false;
      return r.status === 408 || r.status === 429 || r.status >= 500;
    }
    default:
      return false;
  }
}

/** The kind of each code whose kind does not depend on a status. */
const KIND_OF_CODE: Partial<Record<OrasflyErrorCode, OrasflyErrorKind>> = {
  ERR_ORASFLY_AUTH: 'unauthorized',
  ERR_ORASFLY_CREDENTIALS: 'unauthorized',
  ERR_ORASFLY_TLS: 'tls',
  ERR_ORASFLY_TIMEOUT: 'timeout',
  ERR_ORASFLY_NETWORK: 'network',
  ERR_ORASFLY_DIGEST_MISMATCH: 'integrity',
  ERR_ORASFLY_SIZE_MISMATCH: 'integrity',
  ERR_ORASFLY_INVALID_REFERENCE: 'usage',
  ERR_ORASFLY_INVALID_ARGUMENT: 'usage',
  ERR_ORASFLY_CONFIG: 'usage',
  ERR_ORASFLY_STORAGE: 'storage',
  ERR_ORASFLY_STORAGE_QUOTA: 'storage',
  ERR_ORASFLY_LOCK: 'storage',
  ERR_ORASFLY_ABORTED: 'aborted',
  ERR_ORASFLY_DAEMON: 'cluster',
};

/**
 * The {@link OrasflyErrorKind} of any failure: an orasfly error's own, `aborted` for an abort
 * (a signal's `AbortError`), `other` for anything else. The one rule; `OrasflyError.kind` and the
 * CLI's `--json` use it.
 */
export function errorKind(e: unknown): OrasflyErrorKind {
  if (e instanceof TaskFailedError && e.cause instanceof OrasflyError) return errorKind(e.cause);
  if (e instanceof RegistryResponseError) {
    if (e.status === 404) return 'not-found';
    if (e.status === 401 || e.status === 403) return 'unauthorized';
    if (e.status === 429) return 'rate-limited';
    if (e.status >= 500) return 'server-error';
  }
  if (e instanceof OrasflyError) return KIND_OF_CODE[e.code] ?? 'other';
  if (e instanceof Error && (e.name === 'AbortError' || (e as { code?: unknown }).code === 'ABORT_ERR'))
    return 'aborted';
  return 'other';
}
