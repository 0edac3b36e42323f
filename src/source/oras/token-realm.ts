/**
 * Which token realms a bearer challenge may send us to, with or without credentials: an HTTP(S) URL,
 * and never one that would carry credentials unencrypted where they were not before.
 *
 * @module
 */
import { AuthError } from '../../core/errors.js';
import { isLoopbackHost } from '../../http/loopback.js';
import { redact } from '../../http/redact.js';
import type { SecretSet } from './secrets.js';

/**
 * The realm of a challenge as a URL, checked.
 *
 * @throws AuthError (`ERR_ORASFLY_AUTH`) for a realm that is not an HTTP(S) URL, and
 * (`INSECURE_TOKEN_REALM`) for a plain-HTTP realm that would receive credentials unencrypted: named
 * by a registry reached over TLS (a downgrade), or off this machine by a loopback registry spoken to
 * in plain HTTP (which was only ever agreed to for this machine).
 */
export function tokenRealm(
  scheme: { realm: string; challengedOverTls?: boolean },
  registry: string,
  withCredentials: boolean,
  secrets: SecretSet,
): URL {
  let url: URL;
  try {
    url = new URL(scheme.realm);
  } catch {
    throw refused(secrets.scrub(scheme.realm, 200), 'UNAUTHORIZED', 'realm is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw refused(
      secrets.scrub(scheme.realm, 200),
      'UNAUTHORIZED',
      `token realm scheme ${url.protocol} is not HTTP(S)`,
    );
  if (!withCredentials || url.protocol !== 'http:') return url;
  // Another host or port is fine over TLS (the token protocol needs that); a downgrade is not.
  const why = scheme.challengedOverTls
    ? 'the registry was reached over HTTPS, and the realm would receive them unencrypted'
    : isLoopbackHost(registry) && !isLoopbackHost(url.host)
      ? 'the registry is on this machine, the realm is not, and it would receive them unencrypted'
      : undefined;
  if (why === undefined) return url;
  throw refused(
    redact(url.origin + url.pathname),
    'INSECURE_TOKEN_REALM',
    `refusing to send credentials for ${registry} to the plain-HTTP token realm ${redact(url.origin)}: ${why}`,
  );
}

function refused(url: string, code: string, message: string): AuthError {
  return new AuthError({ method: 'GET', url, status: 0, errors: [{ code, message }] });
}
