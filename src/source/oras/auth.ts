/**
 * Registry authentication: `WWW-Authenticate` challenge parsing, the distribution token flow
 * (https://distribution.github.io/distribution/spec/auth/token/), and a per-(registry, scope)
 * token cache with single-flight fetches, so concurrent requests share one token request.
 *
 * @module
 */
import { AuthError, SizeLimitError } from '../../core/errors.js';
import type { RegistryCredential } from './options.js';
import { redact } from '../../http/redact.js';
import { logAuth } from './log.js';
import { raceSignal } from '../../internal/abort.js';
import { SecretSet } from './secrets.js';
import { tokenRealm } from './token-realm.js';
import { missingCredentialHint, rejectedCredentialHint } from './credential-hints.js';

/** One parsed challenge of a `WWW-Authenticate` header. */
export interface AuthChallenge {
  /** Lower-cased scheme: `bearer`, `basic`, … */
  readonly scheme: string;
  /** Parameters with lower-cased names (`realm`, `service`, `scope`, `error`). A token68 is under `''`. */
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/**
 * Parses a `WWW-Authenticate` value (RFC 9110 §11.6.1): several challenges, several parameters,
 * quoted strings with `\` escapes, and token68 values. Never throws; garbage yields what could be
 * parsed.
 *
 * @example parseWwwAuthenticate('Bearer realm="https://t/token",service="reg"')[0]?.params.realm // 'https://t/token'
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const s = header;
  let i = 0;
  const out: { scheme: string; params: Record<string, string> }[] = [];
  const ws = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && TOKEN_CHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const quoted = (): string => {
    i++; // opening quote
    let v = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      v += s[i]!;
      i++;
    }
    i++; // closing quote (or end)
    return v;
  };
  // Is there `name =` at i (a parameter), rather than a new scheme?
  const paramAhead = (): boolean => {
    const save = i;
    const name = token();
    ws();
    // `name=value` is a parameter; `abc==` or `abc=` at a challenge's end is a token68's padding.
    let isParam = name !== '' && s[i] === '=';
    if (isParam) {
      i++;
      ws();
      isParam = i < s.length && s[i] !== '=' && s[i] !== ',';
    }
    i = save;
    return isParam;
  };
  while (i < s.length) {
    while (i < s.length && (s[i] === ',' || s[i] === ' ' || s[i] === '\t')) i++;
    if (i >= s.length) break;
    const scheme = token();
    if (scheme === '') {
      i++; // skip a stray character
      continue;
    }
    const ch = { scheme: scheme.toLowerCase(), params: {} as Record<string, string> };
    out.push(ch);
    ws();
    // token68 (e.g. `Negotiate abc==`): token chars plus / and trailing =, not followed by `=` value
    const t68 = /^[A-Za-z0-9._~+/-]+=*/.exec(s.slice(i));
    if (t68 && !paramAhead()) {
      const after = s.slice(i + t68[0].length).trimStart();
      if (after === '' || after.startsWith(',')) {
        ch.params[''] = t68[0];
        i += t68[0].length;
        continue;
      }
    }
    for (;;) {
      ws();
      if (!paramAhead()) break;
      const name = token().toLowerCase();
      ws();
      i++; // '='
      ws();
      const value = s[i] === '"' ? quoted() : token();
      ch.params[name] = value;
      ws();
      if (s[i] === ',') {
        i++;
        ws();
        continue;
      }
      break;
    }
  }
  return out;
}

/** A token response as used by the cache. */
export interface CachedToken {
  readonly token: string;
  /** Epoch ms after which the token is not used any more (expiry minus skew). */
  readonly expiresAt: number;
}

/** How the token service is reached: one GET/POST returning status, headers and a bounded body. */
export type TokenTransport = (req: {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string | undefined;
  maxBytes: number;
  signal?: AbortSignal | undefined;
}) => Promise<{ status: number; body: Buffer; url: string }>;

/** Where a registry's auth is, learnt from its first challenge. */
type RegistryScheme =
  { kind: 'bearer'; realm: string; service: string | undefined; challengedOverTls: boolean } | { kind: 'basic' };

/** Inputs of {@link TokenAuthenticator}. */
export interface TokenAuthenticatorOptions {
  transport: TokenTransport;
  /** Credential lookup for a registry `host[:port]`; `scope` (`repository:org/img:pull`) picks namespaced entries. */
  credentialFor: (registry: string, signal?: AbortSignal, scope?: string) => Promise<RegistryCredential | undefined>;
  maxTokenBytes: number;
  userAgent: string;
  /** Clock, injectable for tests. @defaultValue Date.now */
  now?: () => number;
  /** Where every credential and token sent is registered, so server text can be scrubbed of them. @defaultValue a private set */
  secrets?: SecretSet | undefined;
  /**
   * The shared token fetch runs on no caller's signal (one caller's abort must not fail the others);
   * it ends when this signal aborts (the client closes) or after `fetchTimeoutMs`. @defaultValue none
   */
  lifetime?: AbortSignal | undefined;
  /** Deadline of one shared token fetch, ms; 0 = none. @defaultValue 0 */
  fetchTimeoutMs?: number | undefined;
  /** Why no credential was found for a registry (a failed helper), for the error that says so. */
  credentialProblem?: ((registry: string) => string | undefined) | undefined;
  /** Where the credential found for `registry`/`scope` came from, said for a person (never the secret). */
  credentialSource?: ((registry: string, scope: string) => string | undefined) | undefined;
  /** Where a lookup that found nothing looked, said shortly. @defaultValue `'the credential files'` */
  credentialSearch?: (() => string) | undefined;
}

/** Seconds a token lives when the service does not say (`expires_in`), per the token spec. */
export const DEFAULT_TOKEN_LIFETIME_S = 60;
/** Tokens are dropped this long before they expire, so a request never carries a just-expired token. */
export const TOKEN_EXPIRY_SKEW_MS = 5_000;

/**
 * Answers registry challenges. Tokens are cached per (registry, scope) until expiry minus
 * {@link TOKEN_EXPIRY_SKEW_MS}; concurrent requests for the same key share one fetch. Token values
 * and credentials are never logged nor put into error messages.
 */
export class TokenAuthenticator {
  readonly #o: TokenAuthenticatorOptions;
  readonly #now: () => number;
  readonly #secrets: SecretSet;
  readonly #schemes = new Map<string, RegistryScheme>();
  readonly #tokens = new Map<string, CachedToken>();
  readonly #inflight = new Map<string, Promise<CachedToken>>();
  /** Token-service requests made (for tests and metrics). */
  tokenFetches = 0;

  constructor(o: TokenAuthenticatorOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#secrets = o.secrets ?? new SecretSet();
  }

  /**
   * The `Authorization` value to send up front for `registry`/`scope`, when a previous challenge
   * told us the registry's scheme; `undefined` when nothing is known yet (send anonymously).
   */
  async authorization(registry: string, scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const known = this.#schemes.get(registry);
    // Nothing is looked up before the registry asks (as oras-go): a broken credential helper must
    // not fail pulls from registries that never challenge.
    if (!known) return undefined;
    if (known.kind === 'basic') return this.#basic(registry, scope, signal);
    const t = await this.#token(registry, known, scope, signal);
    return `Bearer ${t.token}`;
  }

  /**
   * Handles a 401: parses the challenge, remembers the registry's scheme, and returns the
   * `Authorization` value to retry with.
   *
   * @throws AuthError (`ERR_ORASFLY_AUTH`) when the challenge is unusable, Basic is asked without
   * credentials, or the token service fails.
   */
  async answerChallenge(
    registry: string,
    scope: string,
    wwwAuthenticate: string | undefined,
    ctx: { method: string; url: string; status: number },
    signal?: AbortSignal,
    /** The Authorization the rejected request carried, if any. */
    sent?: string,
  ): Promise<string> {
    const challenges = parseWwwAuthenticate(wwwAuthenticate ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    logAuth(
      '%s challenge schemes=%o',
      registry,
      challenges.map((c) => c.scheme),
    );
    if (bearer) {
      const realm = bearer.params['realm'];
      if (!realm)
        throw new AuthError({ ...ctx, errors: [{ code: 'UNAUTHORIZED', message: 'Bearer challenge without realm' }] });
      const scheme: RegistryScheme = {
        kind: 'bearer',
        realm,
        service: bearer.params['service'],
        challengedOverTls: ctx.url.startsWith('https:'),
      };
      this.#schemes.set(registry, scheme);
      // Prefer the registry's scope when it names one (it may be wider/narrower than ours).
      const challengeScope = bearer.params['scope'] ?? scope;
      // The token we sent was rejected (revoked, expired early): forget it so the next fetch is fresh.
      // Registries do not always say `error="invalid_token"`; a 401 to a Bearer we sent says enough.
      // Under the request's scope (where the sent token was cached) and the challenge's, and only a
      // token that is the one sent: another request may have refreshed it meanwhile.
      if (bearer.params['error'] === 'invalid_token' || sent?.startsWith('Bearer '))
        for (const k of new Set([this.#key(registry, scheme, scope), this.#key(registry, scheme, challengeScope)])) {
          const cached = this.#tokens.get(k);
          if (cached && (sent === undefined || sent === `Bearer ${cached.token}`)) this.#tokens.delete(k);
        }
      const t = await this.#token(registry, scheme, challengeScope, signal);
      return `Bearer ${t.token}`;
    }
    if (basic) {
      this.#schemes.set(registry, { kind: 'basic' });
      const h = await this.#basic(registry, scope, signal);
      if (h) return h;
      throw new AuthError({
        ...ctx,
        errors: [{ code: 'UNAUTHORIZED', message: 'registry asks for Basic credentials' }],
        hint: this.hintFor(registry, scope),
      });
    }
    throw new AuthError({
      ...ctx,
      errors: [{ code: 'UNAUTHORIZED', message: 'no supported WWW-Authenticate challenge' }],
    });
  }

  /**
   * What to tell the user about a 401 for `registry`/`scope`: which credential was rejected and where
   * it came from (a credential found is a credential sent), or that none was found, where orasfly
   * looked and how to log in.
   */
  hintFor(registry: string, scope: string): string {
    const source = this.#o.credentialSource?.(registry, scope);
    if (source) return rejectedCredentialHint(registry, source);
    return missingCredentialHint(
      registry,
      this.#o.credentialSearch?.() ?? 'the credential files',
      this.#o.credentialProblem?.(registry),
    );
  }

  /** Forgets cached tokens (all, or one registry's). */
  clear(registry?: string): void {
    for (const k of this.#tokens.keys())
      if (registry === undefined || k.startsWith(`${registry}|`)) this.#tokens.delete(k);
    if (registry === undefined) this.#schemes.clear();
    else this.#schemes.delete(registry);
  }

  async #basic(registry: string, scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const c = await this.#o.credentialFor(registry, signal, scope);
    this.#secrets.addCredential(c);
    if (c && 'username' in c) return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
    if (c && 'token' in c) return `Bearer ${c.token}`;
    return undefined;
  }

  #key(
    registry: string,
    scheme: { realm: string; service: string | undefined; challengedOverTls?: boolean },
    scope: string,
  ): string {
    return `${registry}|${scheme.realm}|${scheme.service ?? ''}|${scope}`;
  }

  async #token(
    registry: string,
    scheme: { realm: string; service: string | undefined; challengedOverTls?: boolean },
    scope: string,
    signal?: AbortSignal,
  ): Promise<CachedToken> {
    const key = this.#key(registry, scheme, scope);
    const cached = this.#tokens.get(key);
    if (cached && cached.expiresAt > this.#now()) {
      logAuth('%s token cache hit scope=%s', registry, scope);
      return cached;
    }
    let p = this.#inflight.get(key);
    if (!p) {
      // The shared fetch runs without any one caller's signal: one caller aborting must not fail
      // the others. Each caller still stops waiting at once when its own signal aborts.
      p = this.#fetchToken(registry, scheme, scope).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
      p.then(
        (t) => this.#tokens.set(key, t),
        () => {},
      );
    }
    return raceSignal(p, signal);
  }

  async #fetchToken(
    registry: string,
    scheme: { realm: string; service: string | undefined; challengedOverTls?: boolean },
    scope: string,
  ): Promise<CachedToken> {
    const credential = await this.#o.credentialFor(registry, this.#o.lifetime, scope);
    this.#secrets.addCredential(credential);
    if (credential && 'token' in credential) return { token: credential.token, expiresAt: Number.POSITIVE_INFINITY };
    const realmUrl = tokenRealm(scheme, registry, credential !== undefined, this.#secrets);
    const headers: Record<string, string> = { 'user-agent': this.#o.userAgent, accept: 'application/json' };
    let method: 'GET' | 'POST' = 'GET';
    let body: string | undefined;
    if (credential && 'identityToken' in credential) {
      // Docker's identity tokens are OAuth2 refresh tokens: POST form to the same realm.
      method = 'POST';
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: 'orasfly',
        refresh_token: credential.identityToken,
        scope,
      });
      if (scheme.service !== undefined) form.set('service', scheme.service);
      body = form.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else {
      if (scheme.service !== undefined) realmUrl.searchParams.set('service', scheme.service);
      if (scope) realmUrl.searchParams.set('scope', scope);
      if (credential && 'username' in credential)
        headers['authorization'] =
          `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
    }
    this.tokenFetches++;
    logAuth(
      '%s fetching token %s %s scope=%s credential=%s',
      registry,
      method,
      redact(realmUrl.origin + realmUrl.pathname),
      scope,
      credential ? 'yes' : 'anonymous',
    );
    const started = this.#now();
    let res: { status: number; body: Buffer; url: string };
    try {
      const bounds = [
        this.#o.lifetime,
        this.#o.fetchTimeoutMs ? AbortSignal.timeout(this.#o.fetchTimeoutMs) : undefined,
      ].filter((x): x is AbortSignal => x !== undefined);
      res = await this.#o.transport({
        method,
        url: realmUrl.href,
        headers,
        body,
        maxBytes: this.#o.maxTokenBytes,
        signal: bounds.length ? AbortSignal.any(bounds) : undefined,
      });
    } catch (e) {
      if (e instanceof SizeLimitError)
        throw new AuthError({
          method,
          url: redact(realmUrl.href),
          status: 200,
          errors: [{ code: 'TOKEN_TOO_LARGE', message: e.message }],
          cause: e,
        });
      throw e;
    }
    const ctx = { method, url: redact(res.url), status: res.status };
    if (res.status !== 200)
      throw new AuthError({
        ...ctx,
        errors: this.#secrets.scrubErrors(registryErrors(res.body)) ?? [
          { code: 'TOKEN_REQUEST_FAILED', message: `token service answered ${res.status}` },
        ],
        // The token service refusing is the credential being refused (or missing).
        hint: res.status === 401 || res.status === 403 ? this.hintFor(registry, scope) : undefined,
      });
    let json: unknown;
    try {
      json = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new AuthError({
        ...ctx,
        errors: [{ code: 'INVALID_TOKEN_RESPONSE', message: 'token response is not JSON' }],
      });
    }
    const o = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
    const token =
      typeof o['token'] === 'string' && o['token']
        ? o['token']
        : typeof o['access_token'] === 'string' && o['access_token']
          ? o['access_token']
          : undefined;
    if (!token)
      throw new AuthError({
        ...ctx,
        errors: [{ code: 'INVALID_TOKEN_RESPONSE', message: 'token response has no token' }],
      });
    this.#secrets.add(token);
    const expiresIn =
      typeof o['expires_in'] === 'number' && o['expires_in'] > 0 ? o['expires_in'] : DEFAULT_TOKEN_LIFETIME_S;
    logAuth('%s token received, expires_in=%ds', registry, expiresIn);
    return { token, expiresAt: started + Math.max(0, expiresIn * 1000 - TOKEN_EXPIRY_SKEW_MS) };
  }
}

/** Parses a distribution error body (`{"errors":[{code,message,detail}]}`), or `undefined`. */
export function registryErrors(
  body: Buffer | string,
): { code: string; message?: string; detail?: unknown }[] | undefined {
  try {
    const j = JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as { errors?: unknown };
    if (!Array.isArray(j.errors)) return undefined;
    const out = j.errors
      .filter(
        (e): e is Record<string, unknown> =>
          typeof e === 'object' && e !== null && typeof (e as Record<string, unknown>)['code'] === 'string',
      )
      .map((e) => ({
        code: e['code'] as string,
        ...(typeof e['message'] === 'string' ? { message: e['message'] } : {}),
        ...(e['detail'] !== undefined ? { detail: e['detail'] } : {}),
      }));
    return out.length ? out : undefined;
  } catch {
    return undefined;
  }
}
