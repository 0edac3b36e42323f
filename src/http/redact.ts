/**
 * The redaction every log line and error message goes through: credentials, `Authorization`
 * headers, tokens and pre-signed URL signatures never leave the process. Shared by the registry
 * client and the cluster transports.
 *
 * @module
 */

const SECRET_HEADER_NAMES = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-dragonfly-oras-authorization',
  'x-dragonfly-oras-token',
  'x-registry-auth',
]);
// Custom `-H` headers carry secrets under many names (X-Auth-Token, Private-Token, X-Api-Key…).
const SECRET_HEADER_RE = /token|secret|key|auth|cookie|session|passw|credential|signature/i;
const SECRET_HEADERS = { has: (name: string): boolean => SECRET_HEADER_NAMES.has(name) || SECRET_HEADER_RE.test(name) };

/** Whether a request header of this name may carry a secret (`Authorization`, cookies, `X-Auth-Token`, …). */
export function isSecretHeader(name: string): boolean {
  return SECRET_HEADERS.has(name.toLowerCase());
}
const SECRET_QUERY_KEYS = new RegExp(
  '^(?:token|access_token|refresh_token|password|secret|signature|sig|verify|hdnts|__token__|' +
    'x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|' +
    'x-oss-signature|x-oss-credential|x-oss-security-token)$',
  'i',
);
const SECRET_JSON_KEYS = /"(token|access_token|refresh_token|identitytoken|password|secret|auth)"\s*:\s*"[^"]*"/gi;

/** The placeholder secrets are replaced with. */
export const REDACTED = '<redacted>';

/**
 * Removes secrets from a value meant for a log line or an error message:
 * - strings: userinfo in URLs, secret query parameters (`token`, pre-signed URL signatures…),
 *   `Bearer …`/`Basic …` credentials and secret JSON fields;
 * - header objects (plain, `Headers`-like arrays or iterables of pairs): values of
 *   `Authorization`, `Proxy-Authorization`, cookies and Dragonfly's token headers.
 */
export function redact(value: string): string;
export function redact(value: Record<string, unknown>): Record<string, unknown>;
export function redact(value: unknown): unknown;
export function redact(value: unknown): unknown {
  if (typeof value === 'string') return redactString(value);
  if (Array.isArray(value)) {
    // undici raw header arrays: [name, value, name, value, …]
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i += 2) {
      const name = String(value[i]);
      out.push(name, SECRET_HEADERS.has(name.toLowerCase()) ? REDACTED : redact(value[i + 1]));
    }
    return out;
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = SECRET_HEADERS.has(k.toLowerCase()) ? REDACTED : redact(v);
    }
    return out;
  }
  return value;
}

function redactString(s: string): string {
  return (
    s
      .replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@?#\s]*@/gi, `$1${REDACTED}@`)
      // A value ends at a quote or bracket too: a URL quoted in a message keeps its closing quote.
      .replace(/([?&])([^=&#\s]+)=([^&#\s"'<>)\]]*)/g, (all, sep: string, key: string) =>
        SECRET_QUERY_KEYS.test(key) ? `${sep}${key}=${REDACTED}` : all,
      )
      .replace(
        /\b(Bearer|Basic)([ \t]+)([A-Za-z0-9._~+/=-]+)/gi,
        (all, scheme: string, space: string, value: string, at: number, whole: string) =>
          isProse(value, whole[at + all.length]) && !AFTER_AUTH_HEADER.test(whole.slice(Math.max(0, at - 40), at))
            ? all
            : `${scheme}${space}${REDACTED}`,
      )
      .replace(SECRET_JSON_KEYS, `"$1":"${REDACTED}"`)
  );
}

/**
 * A word of prose after `Basic`/`Bearer` ("asks for Basic credentials", "Bearer token", "Basic
 * realm="…"), not a credential: lower-case letters only. A Basic value is base64 (mixed case, digits),
 * a bearer token is a JWT or random characters; a lower-case-only secret the client sent is still
 * scrubbed by value where server text enters (`SecretSet`).
 */
// After an `Authorization:` (or `"authorization": "`), whatever follows the scheme is the secret.
const AFTER_AUTH_HEADER = /authorization["']?\s*[:=]\s*["']?$/i;

function isProse(value: string, next: string | undefined): boolean {
  // `realm="…"`: a challenge's parameter name, not a token68.
  return /^[a-z]+$/.test(value) || (/^[a-z]+=$/.test(value) && next === '"');
}

let counter = 0;
/** A short id for correlating the log lines of one request (`r1`, `r2`, …). */
export function nextRequestId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `r${counter}`;
}
