/**
 * One client's credential lookups: each registry (and repository, since a containers auth file may
 * hold a credential for one namespace only) is looked up once, on the client's lifetime rather than
 * one caller's signal, and a failed credential helper is remembered as a warning for the error that
 * may follow.
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

/** Cached credential lookups of one client. */
export class CredentialCache {
  readonly #o: CredentialSources;
  readonly #lifetime: AbortSignal;
  readonly #lookups = new Map<string, Promise<RegistryCredential | undefined>>();
  /** A failed credential helper per registry (a warning: the lookup went on without it). */
  readonly #warnings = new Map<string, string>();
  /** Where each found credential came from, said for a person (by lookup key). */
  readonly #sources = new Map<string, string>();

  constructor(sources: CredentialSources, lifetime: AbortSignal) {
    this.#o = sources;
    this.#lifetime = lifetime;
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
    let p = this.#lookups.get(key);
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
      this.#lookups.set(key, p);
      p.catch(() => this.#lookups.delete(key));
    }
    return raceSignal(p, signal);
  }
}
