/**
 * `oras://` references: parsing, validation and formatting.
 *
 * Upstream (Dragonfly) splits the URL path greedily at its last colon and accepts anything; we
 * validate every part against the distribution grammar so that a bad reference fails with
 * {@link InvalidReferenceError} before any request is made.
 *
 * @module
 */
import { isValidDigest } from '../../core/digest.js';
import { InvalidReferenceError } from '../../core/errors.js';

/** A parsed `oras://` reference. */
export interface OrasReference {
  /** `host[:port]` exactly as written (used for credentials lookup and display). */
  readonly registry: string;
  /** The host the HTTP API lives on: `registry`, except `docker.io` → `registry-1.docker.io`. */
  readonly apiHost: string;
  /** Repository path, e.g. `a/b/img` (`docker.io/x` becomes `library/x`). */
  readonly repository: string;
  /** The tag, when written; `latest` when neither tag nor digest was written. */
  readonly tag?: string | undefined;
  /** The manifest digest after `@`, when written. */
  readonly digest?: string | undefined;
  /**
   * The `?digest=` query of Dragonfly's rewritten URLs: the expected **layer** digest. Resolution
   * cross-checks it against the chosen layer and fails on a mismatch.
   */
  readonly layerDigest?: string | undefined;
  /** What to ask the manifests endpoint for: `digest ?? tag ?? 'latest'`. */
  readonly reference: string;
}

/** Maximum accepted length of a whole reference string. */
export const MAX_REFERENCE_LENGTH = 2048;
/** Maximum repository length (distribution's limit on a repository name). */
export const MAX_REPOSITORY_LENGTH = 255;

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
/** The distribution-spec repository grammar. */
export const REPOSITORY_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
/** The distribution-spec tag grammar. */
export const TAG_RE = /^\w[\w.-]{0,127}$/;

const LABEL_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV4_RE = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+$/;

/**
 * Validates `host[:port]`: a DNS name, an IPv4 address or a bracketed IPv6 address, with an
 * optional port 1–65535. Returns a reason when invalid.
 */
function checkHost(authority: string): string | undefined {
  if (authority === '') return 'missing host';
  let host = authority;
  let port: string | undefined;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0) return 'unterminated IPv6 address';
    host = authority.slice(1, end);
    const rest = authority.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return 'garbage after IPv6 address';
      port = rest.slice(1);
    }
    if (!IPV6_RE.test(host) || !host.includes(':')) return 'invalid IPv6 address';
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0) {
      host = authority.slice(0, colon);
      port = authority.slice(colon + 1);
    }
    if (host === '') return 'missing host';
    if (/^[\d.]+$/.test(host)) {
      if (!IPV4_RE.test(host)) return 'invalid IPv4 address';
    } else {
      if (host.length > 253) return 'host name too long';
      if (!host.split('.').every((l) => LABEL_RE.test(l))) return 'invalid host name';
    }
  }
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port)) return 'invalid port';
    const n = Number(port);
    if (n < 1 || n > 65535) return 'port out of range';
  }
  // What the grammar above lets through and a URL does not take (`[1::2::3]`, a last label of
  // digits such as `registry.1`) would fail later with a raw TypeError: refused here, by name.
  try {
    new URL(`http://${authority}/`);
  } catch {
    return 'invalid host';
  }
  return undefined;
}

/**
 * Parses `oras://host[:port]/repo[/nested…][:tag][@sha256:<hex>][?digest=sha256:<hex>]`.
 *
 * Rules: the scheme must be `oras` (any case); no userinfo, no fragment; the only query key
 * accepted is Dragonfly's `digest` (the expected layer digest, see {@link OrasReference.layerDigest});
 * the path may not contain `%`, `\`, empty, `.` or `..` segments; the tag is split at the last
 * colon of the path (never the host's port); a missing tag means `latest`; `docker.io/x` means
 * `docker.io/library/x`.
 *
 * @throws InvalidReferenceError (`ERR_ORASFLY_INVALID_REFERENCE`) for anything else.
 * @example parseOrasReference('oras://127.0.0.1:5000/a/b/img:v1').repository // 'a/b/img'
 */
export function parseOrasReference(input: string): OrasReference {
  const fail = (reason: string): never => {
    throw new InvalidReferenceError(typeof input === 'string' ? input.slice(0, 200) : String(input), reason);
  };
  if (typeof input !== 'string') return fail('not a string');
  if (input.length > MAX_REFERENCE_LENGTH) return fail(`longer than ${MAX_REFERENCE_LENGTH} characters`);
  // Control characters and spaces never belong to a reference; refusing them early keeps the
  // parser simple and avoids header/log injection through odd inputs.
  if (/[\u0000-\u0020\u007f]/.test(input)) return fail('contains whitespace or control characters');
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(input);
  if (!m) return fail('expected oras://host/repository[:tag][@digest]');
  if (m[1]!.toLowerCase() !== 'oras') return fail(`scheme must be oras, got ${m[1]}`);
  let rest = m[2]!;
  if (rest.includes('#')) return fail('fragments are not allowed');
  if (rest.includes('\\')) return fail('backslashes are not allowed');
  let query: string | undefined;
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  if (authority.includes('@')) return fail('userinfo (credentials) is not allowed in references');
  const hostProblem = checkHost(authority);
  if (hostProblem) return fail(hostProblem);
  if (slash < 0 || slash === rest.length - 1) return fail('missing repository');
  let path = rest.slice(slash + 1);
  if (path.includes('%')) return fail('percent-encoding is not allowed in the path');

  let digest: string | undefined;
  const at = path.indexOf('@');
  if (at >= 0) {
    digest = path.slice(at + 1);
    path = path.slice(0, at);
    if (!isValidDigest(digest))
      return fail('invalid digest (expected sha256:<64 lowercase hex> or sha512:<128 lowercase hex>)');
  }
  let tag: string | undefined;
  const lastColon = path.lastIndexOf(':');
  if (lastColon >= 0) {
    tag = path.slice(lastColon + 1);
    path = path.slice(0, lastColon);
    if (!TAG_RE.test(tag)) return fail('invalid tag');
  }
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return fail('empty, "." or ".." path segment');
  let repository = path;
  const lowerHost = authority.toLowerCase();
  const isDockerHub = lowerHost === 'docker.io' || lowerHost === 'index.docker.io';
  if (isDockerHub && segments.length === 1) repository = `library/${repository}`;
  if (repository.length > MAX_REPOSITORY_LENGTH)
    return fail(`repository longer than ${MAX_REPOSITORY_LENGTH} characters`);
  if (!REPOSITORY_RE.test(repository))
    return fail('invalid repository (lowercase letters, digits and separators . _ __ - only)');

  let layerDigest: string | undefined;
  if (query !== undefined && query !== '') {
    const params = new URLSearchParams(query);
    const keys = [...params.keys()];
    if (keys.some((k) => k !== 'digest')) return fail('only the digest query parameter is allowed');
    const values = params.getAll('digest');
    if (values.length !== 1) return fail('digest query parameter given more than once');
    layerDigest = values[0]!;
    if (!isValidDigest(layerDigest)) return fail('invalid digest query parameter');
  }
  if (tag === undefined && digest === undefined) tag = 'latest';
  return {
    registry: authority,
    apiHost: isDockerHub ? 'registry-1.docker.io' : authority,
    repository,
    tag,
    digest,
    layerDigest,
    reference: digest ?? tag ?? 'latest',
  };
}

/**
 * Formats a reference back to `oras://registry/repository[:tag][@digest][?digest=…]`.
 * `parseOrasReference(formatReference(r))` equals `r` for every parsed `r`.
 */
export function formatReference(
  ref: Pick<OrasReference, 'registry' | 'repository' | 'tag' | 'digest' | 'layerDigest'>,
): string {
  let s = `oras://${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  if (ref.layerDigest !== undefined) s += `?${new URLSearchParams({ digest: ref.layerDigest }).toString()}`;
  return s;
}

/** The token scope that lets a client pull from `repository`. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

/**
 * Dragonfly's rewritten URL for a resolved reference: the reference without any previous query,
 * plus `digest=<layer digest>`, encoded like Go's `url.Values.Encode` (keys sorted, `:` → `%3A`).
 */
export function dragonflyResolvedUrl(ref: OrasReference, layerDigest: string): string {
  return formatReference({ ...ref, layerDigest });
}
