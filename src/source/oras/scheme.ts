/**
 * Choosing the scheme of a registry: HTTPS, unless the user asked for plain HTTP, or the registry
 * is on this machine and does not speak TLS at all (docker and oras treat loopback so). One probe
 * per host, shared by concurrent callers; a certificate problem never downgrades.
 *
 * @module
 */
import { loadUndici, type LazyDispatcher } from '../../http/lazy-undici.js';
import { isLoopbackHost } from '../../http/loopback.js';
import { requireBuiltin } from '../../internal/node-require.js';
import { raceSignal } from '../../internal/abort.js';
import { destroyBody } from './body.js';
import { logSource } from './log.js';
import type { RegistryMemory } from './options.js';

/** What a {@link SchemeChooser} needs from its client. */
export interface SchemeChooserOptions {
  /** The client's `plainHttp`: `true`/`false` decide for every host; unset probes loopback hosts. */
  readonly plainHttp: boolean | undefined;
  readonly userAgent: string;
  /** The client's dispatcher, for the plain `GET /v2/` that confirms a non-TLS answer. */
  readonly dispatcher: LazyDispatcher;
  /** The client's lifetime: a probe stops when the client closes, never because one caller gave up. */
  readonly lifetime: AbortSignal;
  /** Where a decision is remembered between runs (the store's), for {@link SCHEME_MEMORY_MS}. */
  readonly memory?: Pick<RegistryMemory, 'scheme' | 'putScheme'> | undefined;
  /**
   * The plain `GET /v2/` on a connection of its own (no undici to load): `true` when it was answered
   * `200`; `false` to ask through the dispatcher instead (a `401`, anything else, no answer).
   */
  readonly directProbe?: ((url: string, signal: AbortSignal) => Promise<boolean>) | undefined;
}

/**
 * How long a loopback registry's probed scheme is trusted by later runs: a probe costs a TLS
 * handshake attempt and a `GET /v2/`, a tenth of a reuse pull; a registry restarted with the
 * other scheme is probed again at the latest this long after.
 */
export const SCHEME_MEMORY_MS = 10 * 60 * 1000;

/** The scheme per registry host of one client. */
export class SchemeChooser {
  readonly #o: SchemeChooserOptions;
  /** Probes in flight, per host. */
  readonly #probes = new Map<string, Promise<'http' | 'https' | undefined>>();
  readonly #decided = new Map<string, 'http' | 'https'>();
  /** Hosts whose last probe found nothing answering, and the schemes it tried. */
  readonly #unanswered = new Map<string, string>();

  constructor(options: SchemeChooserOptions) {
    this.#o = options;
  }

  /** The scheme to use for `host` now. Undecided means HTTPS: plain HTTP only when asked for, or after the probe saw no TLS at all. */
  schemeOf(host: string): 'http' | 'https' {
    return this.#decided.get(host) ?? (this.#o.plainHttp === true ? 'http' : 'https');
  }

  /**
   * For a host whose scheme is undecided because nothing answered the probe, what the probe tried
   * (`https:// and http://`): an error about that host must not claim only the HTTPS it fell back to.
   */
  unansweredProbe(host: string): string | undefined {
    return this.#decided.has(host) ? undefined : this.#unanswered.get(host);
  }

  /** Decides (once per host) the scheme of a loopback registry when `plainHttp` is unset. */
  async decide(host: string, signal: AbortSignal | undefined): Promise<void> {
    if (this.#o.plainHttp !== undefined || !isLoopbackHost(host) || this.#decided.has(host)) return;
    let p = this.#probes.get(host);
    if (!p) {
      // One probe for concurrent callers, on the client's own signal: one caller's cancellation
      // must not leave the others undecided. Undecided (nothing listening, a reset) is retried later.
      p = this.#rememberedOrProbed(host).then((scheme) => {
        if (scheme) this.#decided.set(host, scheme);
        return scheme;
      });
      this.#probes.set(host, p);
      void p.finally(() => this.#probes.delete(host)).catch(() => {});
    }
    await raceSignal(p, signal);
  }

  async #rememberedOrProbed(host: string): Promise<'http' | 'https' | undefined> {
    const memory = this.#o.memory;
    const seen = await memory?.scheme(host);
    if (seen && Date.now() - seen.seenAt < SCHEME_MEMORY_MS && Date.now() >= seen.seenAt) return seen.scheme;
    const scheme = await this.#probeScheme(host);
    if (scheme) await memory?.putScheme(host, scheme);
    return scheme;
  }

  /**
   * Local registries are often plain HTTP (docker and oras treat loopback so), but TLS is tried
   * first: a loopback TLS registry is verified like any other. Only a server that answers a TLS
   * ClientHello with something that is not TLS makes us use plain HTTP; a certificate problem never
   * does (that would be a downgrade) and surfaces as a `TlsError` on the real request.
   */
  async #probeScheme(host: string): Promise<'http' | 'https' | undefined> {
    const signal = () => AbortSignal.any([this.#o.lifetime, AbortSignal.timeout(PROBE_TIMEOUT_MS)]);
    const headers = { 'user-agent': this.#o.userAgent };
    try {
      // A bare handshake, not an HTTPS request: whether the server speaks TLS is all this decides,
      // and it must not cost the trust store (the system bundle, ~25 ms to build) that a plain-HTTP
      // registry never needs. A TLS server is then verified on the real request, as any other.
      await speaksTls(host, signal());
      return 'https';
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      // Not a TLS answer (Go servers send an HTTP error, Node servers reset the connection): confirm
      // with a plain `GET /v2/`, which a registry answers 200 or 401. A TLS server answers plain HTTP
      // with 400, so a TLS registry that merely reset one handshake is never switched to HTTP.
      if (
        code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
        code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ||
        code === 'EPROTO' ||
        code === 'ECONNRESET' ||
        // Refused: a local registry may be plain HTTP and starting; both schemes are asked, so that
        // an error can say what was tried.
        code === 'ECONNREFUSED'
      ) {
        try {
          const plain =
            (await this.#o.directProbe?.(`http://${host}/v2/`, signal())) ||
            (await this.#plainV2Answers(host, headers, signal()));
          if (plain) {
            logSource('%s does not speak TLS; using plain HTTP (loopback)', host);
            this.#unanswered.delete(host);
            return 'http';
          }
        } catch {
          // Undecided; said in the error of the real request when neither scheme got an answer.
          if (!this.#o.lifetime.aborted) this.#unanswered.set(host, 'https:// and http://');
        }
        return undefined;
      }
      // Timed out: undecided, so the real request goes over HTTPS and fails or not on its own; a
      // later call probes again. Certificate errors: HTTPS, verified.
      return this.#o.lifetime.aborted || !code ? undefined : 'https';
    }
  }

  /** Whether a plain `GET /v2/` through the dispatcher is answered as a registry answers it (200 or 401). */
  async #plainV2Answers(host: string, headers: Record<string, string>, signal: AbortSignal): Promise<boolean> {
    const [{ dispatcherRequest }, dispatcher] = await Promise.all([loadUndici(), this.#o.dispatcher.get()]);
    const res = await dispatcherRequest(dispatcher, {
      origin: `http://${host}`,
      path: '/v2/',
      method: 'GET',
      headers,
      signal,
    });
    destroyBody(res.body);
    return res.statusCode === 200 || res.statusCode === 401;
  }
}

/** A scheme probe gives up after this long (a listener that never answers a ClientHello). */
const PROBE_TIMEOUT_MS = 5000;

/**
 * Resolves once `host[:port]` completes a TLS handshake (certificate not checked: nothing is sent
 * over it, and the real request verifies); rejects with the socket's error otherwise.
 */
function speaksTls(host: string, signal: AbortSignal): Promise<void> {
  const tls = requireBuiltin<typeof import('node:tls')>('node:tls');
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(host) ?? /^([^:]+)(?::(\d+))?$/.exec(host);
  const hostname = m?.[1] ?? host;
  const port = Number(m?.[2] ?? 443);
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const isIp = /^[\d.]+$|:/.test(hostname);
    const socket = tls.connect({
      host: hostname,
      port,
      rejectUnauthorized: false,
      ...(isIp ? {} : { servername: hostname }),
    });
    const onAbort = () => socket.destroy(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    const done = (e?: Error) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (e) reject(e);
      else resolve();
    };
    socket.once('secureConnect', () => done());
    socket.once('error', (e) => done(e));
  });
}
