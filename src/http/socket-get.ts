/**
 * One GET (a blob, a manifest) or HEAD over its own socket, the body read straight into pooled memory
 * (`onread`): no buffer allocated per socket read, no copy into an HTTP parser, no stream layer. This
 * is the first pull's data path on a direct connection; the registry client (undici) keeps everything
 * else. Only the plain case is handled here — a `200`/`206` the caller accepts, framed by
 * `Content-Length`, chunked encoding or the end of the connection. Anything else before the body (a
 * redirect, an auth challenge, an error status, a refused connection, a head undici's parser would
 * refuse) is reported as {@link DirectGetDeclined}, so the
 * caller can send the request through undici, whose answers and errors are the client's. The one
 * exception is a deadline: no head within the dial, handshake and header timeouts is a `TimeoutError`.
 *
 * @module
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { settleAfter, type BodyMemory, type ChunkSink } from '../internal/chunks.js';
import { TimeoutError } from '../core/errors.js';

/** How to reach an origin directly (no proxy): the dispatcher's own connection settings. */
export interface DirectConnect {
  /** TCP connect timeout (ms). */
  readonly dialTimeout: number;
  /** TLS handshake timeout (ms), on top of the dial. */
  readonly tlsHandshakeTimeout: number;
  /** Time from the request to the response head (ms). */
  readonly headersTimeout: number;
  /** TLS settings (verification, trust store), built at the first TLS connection. */
  tls(): ConnectionOptions;
}

/** A response's status line and headers (names lower-case; repeated headers joined by `, `). */
export interface ResponseHead {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
}

/** What to fetch and where its body goes. */
export interface DirectGetRequest {
  readonly url: URL;
  /** `HEAD` reads the head only (a manifest's `Docker-Content-Digest`). @defaultValue `'GET'` */
  readonly method?: 'GET' | 'HEAD' | undefined;
  /** Request headers (the caller's, `Authorization` included); `host` and `connection` are set here. */
  readonly headers: Readonly<Record<string, string>>;
  /** Where the body is read into. */
  readonly memory: BodyMemory;
  /** Takes the body's bytes in order; chunks are views of pooled buffers (retain what you keep). */
  readonly sink: ChunkSink;
  /**
   * Whether the body is wanted, from the head. `false` declines it; throwing fails the request
   * (a wrong `Content-Range`, say) without reading the body.
   */
  accept(head: ResponseHead): boolean;
  readonly signal?: AbortSignal | undefined;
}

/**
 * The direct request did not get to its body: the caller should send it the usual way. `cause` is
 * the connection's error, if that was the reason.
 */
export class DirectGetDeclined extends Error {
  /** The head, when the server answered. */
  readonly head: ResponseHead | undefined;
  constructor(reason: string, head?: ResponseHead, cause?: unknown) {
    super(`direct GET declined: ${reason}`, cause === undefined ? undefined : { cause });
    this.name = 'DirectGetDeclined';
    this.head = head;
  }
}

/** Smallest space a read is offered; a buffer with less left is delivered and replaced. */
const MIN_READ = 64 * 1024;
/** Largest response head read before the request is declined. */
const MAX_HEAD = 16 * 1024;

const nodeRequire = createRequire(import.meta.url);

/**
 * GETs `req.url` on a new connection and pumps an accepted body into `req.sink`, waiting whenever the
 * sink asks to. Resolves when the last byte was taken and the sink's last wait settled.
 *
 * @throws DirectGetDeclined before the body, when the request should go through undici instead.
 * @throws the signal's reason when aborted; the connection's error (retryable) when the body breaks.
 */
export function directGet(connect: DirectConnect, req: DirectGetRequest): Promise<ResponseHead> {
  return new Promise<ResponseHead>((resolve, reject) => {
    const { url, memory: pool, sink, signal } = req;
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') return reject(new DirectGetDeclined(`scheme ${url.protocol}`));
    const headOnly = req.method === 'HEAD';
    const request = requestHead(url, req.headers, headOnly ? 'HEAD' : 'GET');
    if (request === undefined) return reject(new DirectGetDeclined('header with a line break'));
    if (signal?.aborted) return reject(signal.reason);

    let head: ResponseHead | undefined;
    let headText = '';
    let framing: BodyFraming | undefined;
    let settled = false;
    /** The buffer being filled, and how far. */
    let cur = pool.take();
    let fill = 0;
    /** Body spans read and not yet delivered, in order; a buffer entry means "release it after these". */
    const pending: (Uint8Array | { done: Uint8Array })[] = [];
    let waiting: Promise<void> | undefined;
    let flushQueued = false;
    let bodyDone = false;

    const port = Number(url.port || (secure ? 443 : 80));
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const onread = { buffer: () => cur.subarray(fill), callback: onBytes };
    const socket: Socket = secure
      ? (nodeRequire('node:tls') as typeof import('node:tls')).connect({
          host,
          port,
          ...(isIp(host) ? {} : { servername: host }),
          ALPNProtocols: ['http/1.1'],
          ...connect.tls(),
          // tls.connect takes net's `onread` (Node >= 15, nodejs/node#35753); @types/node omits it.
          ...({ onread } as ConnectionOptions),
        })
      : (nodeRequire('node:net') as typeof import('node:net')).connect({ host, port, onread });
    // The dial (and handshake) and the wait for the head are timed apart, as undici does; 0 turns
    // one off. Timing out is an answer, not a reason to ask again through undici (that would wait twice).
    const deadline = (ms: number, what: string): ReturnType<typeof setTimeout> | undefined =>
      ms > 0 ? setTimeout(() => fail(new TimeoutError(ms, `${what} of GET ${url.host}`)), ms) : undefined;
    let timer =
      connect.dialTimeout > 0 && (!secure || connect.tlsHandshakeTimeout > 0)
        ? deadline(connect.dialTimeout + (secure ? connect.tlsHandshakeTimeout : 0), 'connection')
        : undefined;
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      timer = deadline(connect.headersTimeout, 'response head');
      socket.write(request);
    });
    socket.on('error', (e) => fail(head ? e : new DirectGetDeclined(e.message, undefined, e)));
    socket.on('end', onEnd);
    socket.on('close', () => {
      if (!settled) onEnd();
    });
    const onAbort = (): void => fail(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });

    function onBytes(n: number): boolean {
      if (settled) return false;
      const start = fill;
      fill += n;
      let at = start;
      if (!head) {
        at = readHead(start);
        if (settled || !head) return !settled;
      }
      if (at < fill && !bodyDone) {
        for (const [a, b] of framing!.take(cur, at, fill)) addSpan(a, b);
        if (framing!.failure) {
          fail(framing!.failure);
          return false;
        }
        if (framing!.done) bodyDone = true;
      }
      if (bodyDone) {
        finishBody();
        return false;
      }
      if (cur.length - fill < MIN_READ) {
        pending.push({ done: cur });
        cur = pool.take();
        fill = 0;
        return flush();
      }
      if (!flushQueued && pending.length > 0) {
        // Everything read in this turn of the loop goes to the sink at once (a TLS record is 16 KiB).
        flushQueued = true;
        setImmediate(() => {
          flushQueued = false;
          if (!settled && flush() && socket.isPaused()) socket.resume();
        });
      }
      return true;
    }

    /**
     * Queues `cur[a, b)`, merged into the last queued span when it continues it: the sink then takes
     * the records read in one turn of the loop (16 KiB each over TLS) as one chunk, so the piece
     * digest, the blob hash and the write batch each see one call instead of one per record.
     */
    function addSpan(a: number, b: number): void {
      const last = pending[pending.length - 1];
      if (
        last instanceof Uint8Array &&
        last.buffer === cur.buffer &&
        last.byteOffset + last.length === cur.byteOffset + a
      )
        pending[pending.length - 1] = new Uint8Array(cur.buffer, last.byteOffset, last.length + (b - a));
      else pending.push(cur.subarray(a, b));
    }

    /** Parses the head out of `cur[from, fill)`; returns where the body starts. */
    function readHead(from: number): number {
      const text = Buffer.from(cur.buffer, cur.byteOffset + from, fill - from).toString('latin1');
      const before = headText.length;
      headText += text;
      const end = headText.indexOf('\r\n\r\n');
      // Bounded with or without its end in sight (a large head may arrive in one read).
      if (end < 0 ? headText.length > MAX_HEAD : end > MAX_HEAD) {
        fail(new DirectGetDeclined('response head too large'));
        return fill;
      }
      if (end < 0) return fill;
      clearTimeout(timer);
      const parsed = parseHead(headText.slice(0, end));
      if (!parsed) {
        fail(new DirectGetDeclined('malformed response head'));
        return fill;
      }
      head = parsed;
      let wanted: boolean;
      try {
        wanted = (parsed.status === 200 || parsed.status === 206) && req.accept(parsed);
      } catch (e) {
        fail(e);
        return fill;
      }
      if (!wanted) {
        fail(new DirectGetDeclined(`status ${parsed.status}`, parsed));
        return fill;
      }
      framing = headOnly ? noBody() : bodyFraming(parsed);
      if (framing.failure) {
        fail(new DirectGetDeclined(framing.failure.message, parsed));
        return fill;
      }
      if (framing.done) bodyDone = true;
      return from + (end + 4 - before);
    }

    /** Delivers pending spans until the sink asks to wait; returns whether reading may go on. */
    function flush(): boolean {
      while (!waiting && pending.length > 0) {
        const next = pending.shift()!;
        if (!(next instanceof Uint8Array)) {
          pool.release(next.done);
          continue;
        }
        let w: Promise<void> | undefined;
        try {
          w = sink(next);
        } catch (e) {
          fail(e);
          return false;
        }
        if (w) {
          waiting = w;
          w.then(() => {
            waiting = undefined;
            if (settled) return;
            if (flush()) {
              if (bodyDone) finishBody();
              else socket.resume();
            }
          }, fail);
        }
      }
      if (waiting) {
        socket.pause();
        return false;
      }
      return true;
    }

    function finishBody(): void {
      bodyDone = true;
      if (!flush() || settled) return;
      settled = true;
      cleanup();
      resolve(head!);
    }

    function onEnd(): void {
      if (settled) return;
      if (!head) return fail(new DirectGetDeclined('connection closed before a response'));
      if (framing?.untilClose && !bodyDone) return finishBody();
      if (!bodyDone) {
        const e = Object.assign(new Error('premature close: the connection ended inside the body'), {
          code: 'ERR_STREAM_PREMATURE_CLOSE',
        });
        // What arrived is delivered first, as a stream's error follows its last chunk.
        flush();
        fail(e);
      }
    }

    function fail(e: unknown): void {
      if (settled) return;
      settled = true;
      cleanup();
      // After the sink's last wait (a piece's write and commit): the caller's clean-up or retry
      // never races a commit still running.
      settleAfter(waiting, () => reject(e));
    }

    function cleanup(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      for (const p of pending) if (!(p instanceof Uint8Array)) pool.release(p.done);
      pending.length = 0;
      pool.release(cur);
    }
  });
}

/** The request's head, or `undefined` when a header would break the framing. */
function requestHead(url: URL, headers: Readonly<Record<string, string>>, method: string): string | undefined {
  let s = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\nconnection: close\r\n`;
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toLowerCase();
    if (name === 'host' || name === 'connection') continue;
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) return undefined;
    s += `${name}: ${v}\r\n`;
  }
  return `${s}\r\n`;
}

/** An RFC 9110 field name (a token: no space before the colon). */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A field value: visible characters, spaces and tabs; no NUL, CR, LF or other controls. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * The status and headers, or `undefined` for a head that undici's parser (llhttp) would refuse too:
 * the request is then declined and undici's error is the answer, so a malformed head never gets
 * further on this path than on the usual one.
 */
function parseHead(text: string): ResponseHead | undefined {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) return undefined;
    const name = line.slice(0, i);
    // Optional whitespace is spaces and tabs only (RFC 9110 §5.6.3): String.trim() would also strip
    // a vertical tab or a form feed, which llhttp refuses.
    const v = line.slice(i + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!FIELD_NAME.test(name) || !FIELD_VALUE.test(v)) return undefined;
    const k = name.toLowerCase();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  return { status: Number(m[1]), headers };
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

/** How a response's body ends, and which bytes of what was read belong to it. */
interface BodyFraming {
  /** Body spans `[start, end)` within `buf[from, to)`. */
  take(buf: Uint8Array, from: number, to: number): [number, number][];
  done: boolean;
  /** The body runs until the connection closes. */
  readonly untilClose: boolean;
  failure: Error | undefined;
}

function bodyFraming(head: ResponseHead): BodyFraming {
  const te = head.headers['transfer-encoding'];
  // Both framings at once is how responses are smuggled (RFC 9112 §6.3): refused, as undici does.
  if (te !== undefined && head.headers['content-length'] !== undefined)
    return failed('both transfer-encoding and content-length');
  if (te !== undefined) {
    if (te.toLowerCase() !== 'chunked') return failed(`transfer-encoding ${te}`);
    return chunkedFraming();
  }
  const cl = head.headers['content-length'];
  if (cl === undefined)
    return { take: (_b, from, to) => [[from, to]], done: false, untilClose: true, failure: undefined };
  if (!/^\d+$/.test(cl)) return failed(`content-length ${cl}`);
  let left = Number(cl);
  const f: BodyFraming = {
    done: left === 0,
    untilClose: false,
    failure: undefined,
    take(_b, from, to) {
      const n = Math.min(left, to - from);
      left -= n;
      if (left === 0) f.done = true;
      return n > 0 ? [[from, from + n]] : [];
    },
  };
  return f;
}

/** A response with no body (to a `HEAD`), whatever its `Content-Length` says. */
function noBody(): BodyFraming {
  return { take: () => [], done: true, untilClose: false, failure: undefined };
}

function failed(message: string): BodyFraming {
  return { take: () => [], done: false, untilClose: false, failure: new Error(message) };
}

/** `Transfer-Encoding: chunked`: data spans between the size lines, delivered where they lie (no copy). */
function chunkedFraming(): BodyFraming {
  /** Bytes of data left in the current chunk, or -1 while reading a size line. */
  let left = -1;
  let line = '';
  /** After a chunk's data: its CRLF is still to come. */
  let crlf = 0;
  let trailers = false;
  const f: BodyFraming = {
    done: false,
    untilClose: false,
    failure: undefined,
    take(buf, from, to) {
      const spans: [number, number][] = [];
      let i = from;
      while (i < to && !f.done && !f.failure) {
        if (left > 0) {
          const n = Math.min(left, to - i);
          spans.push([i, i + n]);
          left -= n;
          i += n;
          if (left === 0) crlf = 2;
          continue;
        }
        if (crlf > 0) {
          // The CRLF that ends a chunk's data must be there: other bytes mean the sizes lied.
          if (buf[i] !== (crlf === 2 ? 0x0d : 0x0a)) f.failure = new Error('no CRLF after chunk data');
          crlf--;
          i++;
          continue;
        }
        const c = buf[i++]!;
        if (c !== 0x0a) {
          line += String.fromCharCode(c);
          if (line.length > 4096) f.failure = new Error('chunk size line too long');
          continue;
        }
        // Lines end with CRLF: a bare LF is refused, as llhttp refuses it.
        if (!line.endsWith('\r')) {
          f.failure = new Error('chunk line without CR');
          continue;
        }
        const text = line.slice(0, -1);
        line = '';
        if (trailers) {
          if (text === '') f.done = true;
          continue;
        }
        const size = /^([0-9a-fA-F]+)(?:;.*)?$/.exec(text);
        if (!size) {
          f.failure = new Error(`bad chunk size line ${JSON.stringify(text.slice(0, 40))}`);
          continue;
        }
        left = parseInt(size[1]!, 16);
        if (left === 0) trailers = true;
      }
      return spans;
    },
  };
  return f;
}
