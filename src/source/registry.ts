/**
 * Scheme → {@link ResourceClient} registry, as Dragonfly's `pkg/source` keeps one: clients register
 * under a lower-cased URL scheme and are looked up by the scheme of the URL being fetched.
 *
 * @module
 */
import { InvalidArgumentError, UnsupportedError } from '../errors.js';
import type { ResourceClient } from './resource-client.js';

const SCHEME_RE = /^[a-z][a-z0-9+.-]*$/;

/** A set of resource clients keyed by URL scheme. Most code uses the default one via the functions below. */
export class ResourceClientRegistry {
  readonly #clients = new Map<string, ResourceClient>();

  /**
   * Registers `client` for `scheme` (case-insensitive).
   *
   * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) for a malformed scheme, or when
   * the scheme already has a client (Dragonfly: "client with scheme … already exist").
   */
  register(scheme: string, client: ResourceClient): void {
    const s = normaliseScheme(scheme);
    if (this.#clients.has(s)) throw new InvalidArgumentError('scheme', `client with scheme ${s} already exists`);
    this.#clients.set(s, client);
  }

  /** Removes the client of `scheme`; returns whether one was registered. */
  unregister(scheme: string): boolean {
    return this.#clients.delete(normaliseScheme(scheme));
  }

  /**
   * The client for the scheme of `url`.
   *
   * @throws UnsupportedError (`ERR_ORASFLY_UNSUPPORTED`) `scheme X: no source client found`.
   * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) when `url` has no scheme.
   */
  get(url: string): ResourceClient {
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url);
    if (!m) throw new InvalidArgumentError('url', 'no scheme');
    const s = m[1]!.toLowerCase();
    const client = this.#clients.get(s);
    if (!client) throw new UnsupportedError(`scheme ${s}: no source client found`);
    return client;
  }

  /** Registered schemes, sorted. */
  schemes(): string[] {
    return [...this.#clients.keys()].sort();
  }
}

function normaliseScheme(scheme: string): string {
  const s = typeof scheme === 'string' ? scheme.toLowerCase() : '';
  if (!SCHEME_RE.test(s)) throw new InvalidArgumentError('scheme', `malformed scheme ${JSON.stringify(scheme)}`);
  return s;
}

/** The process-wide registry used by {@link registerResourceClient} and {@link getResourceClient}. */
export const defaultResourceClientRegistry = new ResourceClientRegistry();

/**
 * Registers a client in the default registry. See {@link ResourceClientRegistry.register}.
 *
 * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) on a duplicate or malformed scheme.
 */
export function registerResourceClient(scheme: string, client: ResourceClient): void {
  defaultResourceClientRegistry.register(scheme, client);
}

/** Removes a client from the default registry. */
export function unregisterResourceClient(scheme: string): boolean {
  return defaultResourceClientRegistry.unregister(scheme);
}

/**
 * The client of the default registry for `url`'s scheme.
 *
 * @throws UnsupportedError (`ERR_ORASFLY_UNSUPPORTED`) `scheme X: no source client found`.
 */
export function getResourceClient(url: string): ResourceClient {
  return defaultResourceClientRegistry.get(url);
}
