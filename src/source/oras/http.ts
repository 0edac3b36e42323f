/**
 * The registry request core, on undici `request()`: authentication per attempt, bounded retries
 * with backoff and `Retry-After`, manual redirects that drop `Authorization` across origins, typed
 * errors from distribution error bodies, and bodies that are always consumed or destroyed.
 *
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { loadUndici, type LazyDispatcher } from '../../http/lazy-undici.js';
import { tlsFailureHint } from '../../http/tls-trust.js';
import {
  AuthError,
  NetworkError,
  OrasflyError,
  RegistryResponseError,
  TimeoutError,
  TlsError,
} from '../../core/errors.js';
import { registryErrors, type TokenAuthenticator, type TokenTransport } from './auth.js';
import { isSecretHeader, nextRequestId, redact } from '../../http/redact.js';
import { logSource } from './log.js';
import type { ResolvedOrasClientOptions } from './options.js';
import { markRetriesExhausted, parseRetryAfter, retryDelay, sleep } from '../../internal/retry.js';
import { SecretSet } from './secrets.js';
import { destroyBody, errorChain, firstCode, firstMessage, readLimited } from './body.js';
import { quote } from '../../core/describe.js';

/** Request headers that may follow a redirect to another origin (an allow-list: anything else may be a secret). */
const CROSS_ORIGIN_HEADERS = new Set([
  'accept',
  'accept-encoding',
  'user-agent',
  'range',
  'if-range',
  'if-none-match',
  'if-match',
  'cache-control',
]);

/** Largest error body parsed for distribution error codes. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

const TLS_ERROR_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'EPROTO',
]);

/** A request of the core. */
export interface RegistryHttpRequest {
  method: 'GET' | 'HEAD' | 'POST';
  url: string;
  headers?: Record<string, string> | undefined;
  body?: string | undefined;
  /** Authenticate for this registry and scope (`repository:<name>:pull`). */
  auth?: { registry: string; scope: string } | undefined;
  /** Statuses handed back to the caller; anything else becomes an error (after retries). */
  accept: readonly number[];
  /** Statuses decided on the status line alone: their body is destroyed, never awaited (the registry's 416 body is malformed). */
  noBodyStatuses?: readonly number[] | undefined;
  signal?: AbortSignal | undefined;
}

/** A response of the core. The caller owns `body` and must consume or destroy it. */
export interface RegistryHttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable & { dump?: (o?: { limit: number }) => Promise<void> };
  /** The final URL, after redirects. */
  readonly url: string;
  /** Whether a redirect changed origin (no registry headers such as `Docker-Content-Digest` then). */
  readonly crossOrigin: boolean;
  /** Log correlation id. */
  readonly requestId: string;
  /** A 401 to an answered challenge: what to tell the user (which credential was rejected, or how to log in). */
  readonly authHint?: string | undefined;
}

const noop = (): void => {};

/** Consumes a small leftover body so the socket can be reused; destroys it when larger than 64 KiB. */
function discardBody(body: RegistryHttpResponse['body']): void {
  body.on('error', noop);
  if (typeof body.dump === 'function') body.dump({ limit: MAX_ERROR_BODY_BYTES }).catch(noop);
  else body.destroy();
}

/** The TLS error code in `e`'s cause chain, if any. */
export function tlsErrorCode(e: unknown): string | undefined {
  for (const c of errorChain(e)) {
    const code = typeof c.code === 'string' ? c.code : '';
    if (TLS_ERROR_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return code;
  }
  return undefined;
}

/** The retryable error code in `e`'s cause chain, if any. */
function matchingCode(e: unknown, codes: ReadonlySet<string>): string | undefined {
  for (const c of errorChain(e)) if (typeof c.code === 'string' && codes.has(c.code)) return c.code;
  return undefined;
}

/** Request core of one {@link OrasResourceClient}. Internal. */
export class RegistryHttp {
  readonly #dispatcher: LazyDispatcher;
  readonly #o: ResolvedOrasClientOptions;
  #auth: TokenAuthenticator | undefined;
  readonly #random: () => number;
  readonly #secrets: SecretSet;
  /** Requests put on the wire (every attempt and redirect hop). */
  requests = 0;

  constructor(
    dispatcher: LazyDispatcher,
    options: ResolvedOrasClientOptions,
    random: () => number = Math.random,
    secrets: SecretSet = new SecretSet(),
  ) {
    this.#dispatcher = dispatcher;
    this.#o = options;
    this.#random = random;
    this.#secrets = secrets;
  }

  /** Wires the authenticator (it needs {@link tokenTransport}, so it is built after this). */
  setAuthenticator(auth: TokenAuthenticator): void {
    this.#auth = auth;
  }

  /** What the scheme probe tried for a host nothing answered (`https:// and http://`), for the error that says so. */
  unansweredProbe: (host: string) => string | undefined = () => undefined;

  /** The token service transport: the same core without registry auth, statuses returned as they come. */
  readonly tokenTransport: TokenTransport = async ({ method, url, headers, body, maxBytes, signal }) => {
    const res = await this.send({ method, url, headers, body, accept: [200, 400, 401, 403, 404], signal }).catch(
      (e: unknown) => {
        if (e instanceof RegistryResponseError && !(e instanceof AuthError))
          throw new AuthError({ method: e.method, url: e.url, status: e.status, errors: [...e.errors], cause: e });
        throw e;
      },
    );
    const buf = await readLimited(res.body, maxBytes, 'token response', res.headers['content-length'], signal);
    return { status: res.status, body: buf, url: res.url };
  };

  /**
   * Sends `req` with auth, redirects and retries.
   *
   * @throws AuthError (`ERR_ORASFLY_AUTH`) on 401/403 after the challenge was answered.
   * @throws RegistryResponseError (`ERR_ORASFLY_REGISTRY_RESPONSE`) on other unexpected statuses,
   * with the distribution `errors[]`.
   * @throws TlsError (`ERR_ORASFLY_TLS`), never retried.
   * @throws NetworkError (`ERR_ORASFLY_NETWORK`) / TimeoutError (`ERR_ORASFLY_TIMEOUT`) after retries.
   */
  async send(req: RegistryHttpRequest): Promise<RegistryHttpResponse> {
    const policy = this.#o.retry;
    // Only idempotent requests are retried; a token POST is sent once.
    const maxRetries = req.method === 'POST' ? 0 : policy.maxRetries;
    for (let attempt = 0; ; attempt++) {
      let res: RegistryHttpResponse;
      try {
        res = await this.#sendAuthed(req);
      } catch (e) {
        if (req.signal?.aborted) throw req.signal.reason;
        if (e instanceof OrasflyError) throw e;
        const tls = tlsErrorCode(e);
        if (tls)
          throw new TlsError(
            `TLS error talking to ${redact(new URL(req.url).origin)}: ${tls}; ${tlsFailureHint(tls)}`,
            { cause: e },
          );
        const code = matchingCode(e, policy.errorCodes);
        if (code && attempt < maxRetries) {
          const delay = retryDelay(policy, attempt, undefined, this.#random);
          logSource('%s %s failed with %s, retry %d in %dms', req.method, redact(req.url), code, attempt + 1, delay);
          await sleep(delay, req.signal);
          continue;
        }
        const c = code ?? firstCode(e);
        if (/TIMEOUT/.test(c))
          throw markRetriesExhausted(
            new TimeoutError(
              c.includes('CONNECT') ? this.#o.dialTimeout : this.#o.responseHeaderTimeout,
              `${req.method} ${redact(req.url)} (${c})`,
            ),
          );
        // Keep the parser's reason (invalid Content-Length, bare LF, not HTTP at all): a code alone says little.
        const reason = firstMessage(e);
        const url = new URL(req.url);
        const tried = this.unansweredProbe(url.host);
        throw markRetriesExhausted(
          new NetworkError(
            // The probe asked both schemes: the URL is not shown as if HTTPS alone had been tried.
            (tried
              ? `${req.method} ${redact(req.url.slice(url.protocol.length + 2))} failed: ${c} (nothing answered over ${tried}; is the registry running?)`
              : `${req.method} ${redact(req.url)} failed: ${c}`) +
              (reason ? ` (${this.#secrets.scrub(reason, 200)})` : '') +
              (attempt ? ` after ${attempt + 1} attempts` : ''),
            { cause: e },
          ),
        );
      }
      if (req.accept.includes(res.status)) return res;
      if (policy.statusCodes.has(res.status) && attempt < maxRetries) {
        const retryAfter = parseRetryAfter(res.headers['retry-after']);
        if (retryAfter !== undefined && retryAfter > policy.maxRetryAfter) {
          // Waiting a shortened time and asking again would only hammer a server that said "not now";
          // waiting as long as it asked could hold a pull for days. Fail now and say why.
          destroyBody(res.body);
          throw new RegistryResponseError({
            method: req.method,
            url: redact(res.url),
            status: res.status,
            errors: [
              {
                code: 'RETRY_AFTER_TOO_LONG',
                message:
                  `the server asks to retry after ${Math.round(retryAfter / 1000)} ` +
                  `s, longer than retry.maxRetryAfter (${Math.round(policy.maxRetryAfter / 1000)} s); not waiting`,
              },
            ],
          });
        }
        if (req.noBodyStatuses?.includes(res.status)) destroyBody(res.body);
        else discardBody(res.body);
        const delay = retryDelay(policy, attempt, retryAfter, this.#random);
        logSource(
          '%s %s → %d, retry %d in %dms%s',
          res.requestId,
          req.method,
          res.status,
          attempt + 1,
          delay,
          retryAfter !== undefined ? ' (Retry-After)' : '',
        );
        await sleep(delay, req.signal);
        continue;
      }
      // Retryable statuses reach this line only when the attempts are spent.
      throw markRetriesExhausted(await this.#errorFrom(req, res));
    }
  }

  async #sendAuthed(req: RegistryHttpRequest): Promise<RegistryHttpResponse> {
    // A caller-supplied Authorization (dfget -H) overrides discovery entirely.
    const userAuth = Object.keys(req.headers ?? {}).some((k) => k.toLowerCase() === 'authorization');
    const auth = !userAuth && this.#auth ? req.auth : undefined;
    let authorization = auth ? await this.#auth!.authorization(auth.registry, auth.scope, req.signal) : undefined;
    let res = await this.#follow(req, authorization);
    if (res.status === 401 && auth && !res.crossOrigin) {
      const www = res.headers['www-authenticate'];
      discardBody(res.body);
      authorization = await this.#auth!.answerChallenge(
        auth.registry,
        auth.scope,
        Array.isArray(www) ? www.join(', ') : www,
        { method: req.method, url: redact(res.url), status: 401 },
        req.signal,
        authorization,
      );
      res = await this.#follow(req, authorization);
      // A second 401 falls through to the caller's error path as AuthError, saying what was tried.
      if (res.status === 401 && !res.crossOrigin)
        return { ...res, authHint: this.#auth!.hintFor(auth.registry, auth.scope) };
    }
    return res;
  }

  async #follow(req: RegistryHttpRequest, authorization: string | undefined): Promise<RegistryHttpResponse> {
    let url = new URL(req.url);
    const origin = url.origin;
    let userHeaders = { ...(req.headers ?? {}) };
    let auth = authorization;
    let method = req.method;
    let body = req.body;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': this.#o.userAgent, ...userHeaders };
      if (auth !== undefined) headers['authorization'] = auth;
      // Whatever secret we send, a server must not be able to echo it into our errors.
      for (const [k, v] of Object.entries(headers)) if (isSecretHeader(k)) this.#secrets.addHeaderValue(v);
      const id = nextRequestId();
      this.requests++;
      logSource('%s → %s %s headers=%o', id, method, redact(url.href), redact(headers));
      const [{ dispatcherRequest }, dispatcher] = await Promise.all([loadUndici(), this.#dispatcher.get()]);
      const res = await dispatcherRequest(dispatcher, {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: method as Dispatcher.HttpMethod,
        headers,
        body: body ?? null,
        signal: req.signal ?? null,
      });
      logSource(
        '%s ← %d %s content-length=%s',
        id,
        res.statusCode,
        redact(url.href),
        res.headers['content-length'] ?? '-',
      );
      const location = res.headers['location'];
      if (REDIRECT_STATUSES.has(res.statusCode) && typeof location === 'string') {
        discardBody(res.body);
        if (hop >= this.#o.maxRedirects)
          throw new RegistryResponseError({
            method,
            url: redact(url.href),
            status: res.statusCode,
            errors: [
              {
                code: 'TOO_MANY_REDIRECTS',
                message: `more than ${this.#o.maxRedirects} redirects (oras.maxRedirects)`,
              },
            ],
          });
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new RegistryResponseError({
            method,
            url: redact(url.href),
            status: res.statusCode,
            errors: [
              {
                code: 'BAD_REDIRECT',
                message: `redirect Location ${quote(this.#secrets.scrub(location, 100))} is not a URL`,
              },
            ],
          });
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new RegistryResponseError({
            method,
            url: redact(url.href),
            status: res.statusCode,
            errors: [
              { code: 'BAD_REDIRECT', message: `redirect to a non-HTTP URL refused (${quote(next.protocol, 20)})` },
            ],
          });
        }
        // A request body may be a secret (the token POST carries the refresh token): it never follows
        // a redirect to another origin, nor one from HTTPS down to HTTP.
        if (
          body !== undefined &&
          res.statusCode !== 303 &&
          (next.origin !== url.origin || (url.protocol === 'https:' && next.protocol === 'http:'))
        ) {
          throw new RegistryResponseError({
            method,
            url: redact(url.href),
            status: res.statusCode,
            errors: [
              {
                code: 'BAD_REDIRECT',
                message: `refusing to send the ${method} body to ${redact(next.origin)}: a redirect may not carry it to another origin`,
              },
            ],
          });
        }
        if (next.origin !== url.origin) {
          // Blob stores (S3, GCS) reject or leak foreign credentials: never carry them across origins.
          auth = undefined;
          // Only headers known to be harmless follow; `-H` tokens, cookies and the like stay home.
          userHeaders = Object.fromEntries(
            Object.entries(userHeaders).filter(([k]) => CROSS_ORIGIN_HEADERS.has(k.toLowerCase())),
          );
        }
        if ((res.statusCode === 303 || res.statusCode === 301 || res.statusCode === 302) && method === 'POST') {
          // As browsers and Go do: 301/302/303 after a POST become a GET without the body.
          method = 'GET';
          body = undefined;
        }
        logSource('%s redirect → %s', id, redact(next.href));
        url = next;
        continue;
      }
      return {
        status: res.statusCode,
        headers: res.headers,
        body: res.body,
        url: url.href,
        crossOrigin: url.origin !== origin,
        requestId: id,
      };
    }
  }

  async #errorFrom(req: RegistryHttpRequest, res: RegistryHttpResponse): Promise<RegistryResponseError> {
    let errors: { code: string; message?: string; detail?: unknown }[] | undefined;
    if (req.method === 'HEAD' || res.status === 416 || req.noBodyStatuses?.includes(res.status)) {
      destroyBody(res.body);
    } else {
      try {
        errors = this.#secrets.scrubErrors(
          registryErrors(await readLimited(res.body, MAX_ERROR_BODY_BYTES, 'error body', undefined, req.signal)),
        );
      } catch (e) {
        if (req.signal?.aborted) throw req.signal.reason;
        destroyBody(res.body);
      }
    }
    const init = { method: req.method, url: redact(res.url), status: res.status, errors, hint: res.authHint };
    return res.status === 401 || res.status === 403 ? new AuthError(init) : new RegistryResponseError(init);
  }
}
