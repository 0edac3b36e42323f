/**
 * One client's credential lookups: each registry (and repository, since a containers auth file may
 * hold a credential for one namespace only) is looked up once per {@link CREDENTIAL_LOOKUP_TTL_MS},
 * on the client's lifetime rather than one caller's signal, and a failed credential helper is
 * remembered as a warning for the error that may follow.
 *
 * @module
 */
import { raceSignal } from '../../internal/abort.js';
import { findCredential } from './credentials.js';
import { searchedPlaces } from './credential-hints.js';
import { logSource } from './log.js';
import type { RegistryCredential, ResolvedOrasClientOptions } from './options.js';

/** Where credentials are looked for: the credential fields of the client's resolved options. */
export type CredentialSources = Pick<
  ResolvedOrasClientOptions,
  'credentials' | 'credentialsSource' | 'registryConfig' | 'dockerConfig' | 'homeDir' | 'credentialHelperTimeout'
>;

/**
 * How long a looked-up credential is used before it is looked up again: a long-lived client then
 * sees a new `docker login`, and a credential helper's short-lived token (cloud registries' helpers
 * hand out tokens of an hour or so) is asked for anew.
 */
export const CREDENTIAL_LOOKUP_TTL_MS = 5 * 60_000;

/** Cached credential lookups of one client. */
export class CredentialCache {
  readonly #o: CredentialSources;
  readonly #lifetime: AbortSignal;
  readonly #now: () => number;
  readonly #lookups = new Map<string, { at: number; p: Promise<RegistryCredential | undefined> }>();
  /** A failed credential helper per registry (a warning: the lookup went on without it). */
  readonly #warnings = new Map<string, string>();
  /** Where each found credential came from, said for a person (by lookup key). */
  readonly #sources = new Map<string, string>();

  constructor(sources: CredentialSources, lifetime: AbortSignal, now: () => number = Date.now) {
    this.#o = sources;
    this.#lifetime = lifetime;
    this.#now = now;
  }

  /** What went wrong looking up `registry`'s credential, if anything did. */
  warningFor(registry: string): string | undefined {
    return this.#warnings.get(registry);
  }

  /** Where the credential for `registry` (and `scope`'s repository) came from; `undefined` when none was found (yet). */
  sourceOf(registry: string, scope?: string): string | undefined {
    return this.#sources.get(this.#key(registry, scope));
  }

  /** Where a lookup that finds nothing looks, said shortly. */
  searched(): string {
    return searchedPlaces(this.#o.registryConfig, this.#o.credentials !== undefined);
  }

  #key(registry: string, scope: string | undefined): string {
    // Per repository: a containers auth file may hold a credential for one namespace only.
    return `${registry}|${/^repository:([^:]+):/.exec(scope ?? '')?.[1] ?? ''}`;
  }

  /** The credential for `registry` (and the repository of a `repository:<name>:pull` scope), looked up once. */
  lookup(registry: string, signal?: AbortSignal, scope?: string): Promise<RegistryCredential | undefined> {
    const repository = /^repository:([^:]+):/.exec(scope ?? '')?.[1];
    const key = this.#key(registry, scope);
    const cached = this.#lookups.get(key);
    let p = cached && this.#now() - cached.at < CREDENTIAL_LOOKUP_TTL_MS ? cached.p : undefined;
    if (!p) {
      // Shared (cached) lookup: on the client's lifetime, never one caller's signal.
      p = findCredential(registry, {
        explicit: this.#o.credentials,
        explicitSource: this.#o.credentialsSource,
        registryConfig: this.#o.registryConfig,
        dockerConfig: this.#o.dockerConfig,
        repository,
        homeDir: this.#o.homeDir,
        helperTimeout: this.#o.credentialHelperTimeout,
        signal: this.#lifetime,
        onWarning: (m) => this.#warnings.set(registry, m),
      }).then((f) => {
        if (f) logSource('credential for %s from %s', registry, f.source);
        if (f) this.#sources.set(key, f.from);
        return f?.credential;
      });
      const entry = { at: this.#now(), p };
      this.#lookups.set(key, entry);
      p.catch(() => {
        if (this.#lookups.get(key) === entry) this.#lookups.delete(key);
      });
    }
    return raceSignal(p, signal);
  }
}
