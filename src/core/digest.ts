/**
 * The one digest grammar of the project: what a registry reference, a manifest descriptor, the
 * store's digest index and a `--digest` flag accept. Imports only the errors of its own floor.
 *
 * @module
 */
import { InvalidArgumentError } from './errors.js';
import { quote } from './describe.js';

/** Accepted digests: sha256 (64 lowercase hex) and sha512 (128 lowercase hex). */
export const DIGEST_RE = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** Whether `s` is a valid digest string (`sha256:<64 hex>` or `sha512:<128 hex>`). */
export function isValidDigest(s: unknown): s is string {
  return typeof s === 'string' && DIGEST_RE.test(s);
}

/** A valid digest's algorithm and hex, or `undefined` for anything else. */
export function splitDigest(s: unknown): { algorithm: 'sha256' | 'sha512'; hex: string } | undefined {
  if (!isValidDigest(s)) return undefined;
  const i = s.indexOf(':');
  return { algorithm: s.slice(0, i) as 'sha256' | 'sha512', hex: s.slice(i + 1) };
}

/**
 * Checks a digest given as input.
 * @throws InvalidArgumentError naming `field` for anything {@link isValidDigest} refuses.
 */
export function assertDigest(s: unknown, field = 'digest'): asserts s is string {
  if (!isValidDigest(s))
    throw new InvalidArgumentError(field, `expected sha256:<64 hex> or sha512:<128 hex>, got ${quote(s)}`);
}
