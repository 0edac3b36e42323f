/**
 * The parts of the registry client that talk through undici — the request core with its retries
 * and redirects, the token flow, the credential lookup — built together at the first request that
 * needs them. A reuse answered by the store, or by a request on a connection of its own, never
 * loads them (nor undici): a third of the client's code.
 *
 * @module
 */
import type { LazyDispatcher } from '../../http/lazy-undici.js';
import { TokenAuthenticator } from './auth.js';
import { CredentialCache } from './credential-cache.js';
import { RegistryHttp } from './http.js';
import type { ResolvedOrasClientOptions } from './options.js';
import type { SecretSet } from './secrets.js';

/** The request core, the token flow and the credentials of one client. */
export interface RegistryAccess {
  readonly http: RegistryHttp;
  readonly auth: TokenAuthenticator;
}

/** Wires the request core, the token flow and the credential cache of one client. */
export function createRegistryAccess(o: {
  options: ResolvedOrasClientOptions;
  dispatcher: LazyDispatcher;
  secrets: SecretSet;
  /** The client's lifetime: shared lookups stop when it closes. */
  lifetime: AbortSignal;
  /** What a scheme probe tried for a host nothing answered (for error messages). */
  unansweredProbe: (host: string) => string | undefined;
}): RegistryAccess {
  const { options } = o;
  const credentials = new CredentialCache(options, o.lifetime);
  const http = new RegistryHttp(o.dispatcher, options, Math.random, o.secrets);
  const auth = new TokenAuthenticator({
    secrets: o.secrets,
    lifetime: o.lifetime,
    credentialProblem: (registry) => credentials.warningFor(registry),
    credentialSource: (registry, scope) => credentials.sourceOf(registry, scope),
    credentialSearch: () => credentials.searched(),
    fetchTimeoutMs: options.metadataTimeout,
    transport: http.tokenTransport,
    credentialFor: (registry, signal, scope) => credentials.lookup(registry, signal, scope),
    maxTokenBytes: options.maxTokenBytes,
    userAgent: options.userAgent,
  });
  http.setAuthenticator(auth);
  http.unansweredProbe = o.unansweredProbe;
  return { http, auth };
}
