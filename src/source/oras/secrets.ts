/**
 * The secrets one client has sent, so that nothing a server says back can carry them into an error,
 * a log line or the CLI's output. A registry or token service that echoes the `Authorization` it got
 * (in a 403 message, say) would otherwise print the user's password.
 *
 * @module
 */
import { redact, REDACTED } from '../../http/redact.js';
import type { RegistryCredential } from './options.js';

/** Shortest value treated as a secret on its own (shorter ones would blank out ordinary words). */
const MIN_SECRET_CHARS = 4;
/** Longest input scrubbed (an error body is read through 64 KiB anyway). */
const MAX_SCRUBBED_INPUT = 64 * 1024;
/** Most secrets remembered; the oldest go first (tokens expire, a long-lived client sends many). */
const MAX_SECRETS = 256;

/** Longest server-supplied text kept in a message. */
export const MAX_SERVER_TEXT_CHARS = 512;

/** A growing set of secret strings and the scrubbing of text against them. */
export class SecretSet {
  readonly #values = new Set<string>();
  #sorted: string[] | undefined;

  /** Registers secret values (ignoring short and empty ones). */
  add(...values: (string | undefined)[]): void {
    for (const v of values) {
      if (typeof v !== 'string' || v.length < MIN_SECRET_CHARS || this.#values.has(v)) continue;
      this.#values.add(v);
      if (this.#values.size > MAX_SECRETS) this.#values.delete(this.#values.values().next().value!);
      this.#sorted = undefined;
    }
  }

  /** Registers a credential and its parts: user name, password, `user:pass` and its base64, tokens and their JWT segments. */
  addCredential(c: RegistryCredential | undefined): void {
    if (!c) return;
    if ('username' in c) {
      const pair = `${c.username}:${c.password}`;
      this.add(c.password, c.username, pair, Buffer.from(pair).toString('base64'), encodeURIComponent(c.password));
    } else if ('identityToken' in c) this.#addToken(c.identityToken);
    else this.#addToken(c.token);
  }

  /** Registers the credential inside an `Authorization`-like header value (`Bearer x`, `Basic x`, or a bare value). */
  addHeaderValue(value: string): void {
    const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(value);
    if (m && /^basic$/i.test(m[1]!)) {
      this.add(m[2]);
      const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i > 0) this.addCredential({ username: decoded.slice(0, i), password: decoded.slice(i + 1) });
    } else if (m) this.#addToken(m[2]!);
    else this.#addToken(value.trim());
  }

  /** Registers a token and, for a JWT, each of its segments (a server may quote only the payload). */
  #addToken(token: string): void {
    this.add(token);
    const parts = token.split('.');
    if (parts.length === 3) for (const p of parts) if (p.length >= 8) this.add(p);
  }

  /**
   * `text` with every registered secret replaced, the usual secret shapes redacted (`Bearer …`,
   * `Basic …`, URL userinfo, secret query parameters and JSON fields), and cut to `max` characters.
   */
  scrub(text: string, max = MAX_SERVER_TEXT_CHARS): string {
    // Secrets are replaced before the text is cut, so none survives half-cut at the boundary.
    let s = text.length > MAX_SCRUBBED_INPUT ? text.slice(0, MAX_SCRUBBED_INPUT) : text;
    this.#sorted ??= [...this.#values].sort((a, b) => b.length - a.length);
    // Longest first, so a password inside `user:pass` does not leave the pair half-redacted.
    for (const v of this.#sorted) if (s.includes(v)) s = s.split(v).join(REDACTED);
    s = redact(s);
    return s.length > max ? `${s.slice(0, max)}… (cut)` : s;
  }

  /** {@link scrub} applied to every string of a distribution `errors[]` array (details included, bounded). */
  scrubErrors<T extends { code: string; message?: string; detail?: unknown }>(
    errors: T[] | undefined,
  ): T[] | undefined {
    if (!errors) return errors;
    return errors.slice(0, 8).map((e) => ({
      ...e,
      code: this.scrub(e.code, 64),
      ...(e.message !== undefined ? { message: this.scrub(e.message) } : {}),
      ...(e.detail !== undefined ? { detail: this.#scrubValue(e.detail, 3) } : {}),
    }));
  }

  #scrubValue(v: unknown, depth: number): unknown {
    if (typeof v === 'string') return this.scrub(v);
    if (depth <= 0 || v === null || typeof v !== 'object') return typeof v === 'object' && v !== null ? '…' : v;
    if (Array.isArray(v)) return v.slice(0, 16).map((x) => this.#scrubValue(x, depth - 1));
    return Object.fromEntries(
      Object.entries(v)
        .slice(0, 16)
        .map(([k, x]) => [this.scrub(k, 64), this.#scrubValue(x, depth - 1)]),
    );
  }
}
