/**
 * The gRPC a Dragonfly daemon's socket needs, over Node's own HTTP/2: unary calls and server
 * streams of messages already encoded (`messages.ts`), each a length-prefixed frame, the status
 * from the trailers. No grpc-js: loading it (and its channel machinery) took ~30 ms of every pull
 * through a daemon, longer than the whole exchange with a warm daemon. What gRPC offers beyond this
 * (name resolution, load balancing, retries, compression, keepalive pings) a unix socket to one
 * daemon does not use; the transport has its own timeouts and retries.
 *
 * @module
 * @internal
 */
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { requireBuiltin } from '../../internal/node-require.js';

/** gRPC status codes used here (the numbers of the gRPC spec). */
export const GRPC = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** The flow-control window asked for, per stream and for the connection. */
const WINDOW_BYTES = 8 * 1024 * 1024;

/** A call that did not end with `OK`: its status code, message and (decoded) status details. */
export class GrpcCallError extends Error {
  readonly code: number;
  readonly details: string;
  /** `grpc-status-details-bin`, base64-decoded (a daemon puts its `errordetails.v2.Backend` there). */
  readonly statusDetails: Buffer | undefined;
  constructor(code: number, details: string, statusDetails?: Buffer, cause?: unknown) {
    super(`gRPC status ${code}: ${details}`, cause === undefined ? undefined : { cause });
    this.name = 'GrpcCallError';
    this.code = code;
    this.details = details;
    this.statusDetails = statusDetails;
  }
}

/** A server-streaming call: its messages, in order, then the end (or the status as an error). */
export interface GrpcStream extends AsyncIterable<Buffer> {
  /** Ends the call (`RST_STREAM CANCEL`); the iteration then throws a `CANCELLED` {@link GrpcCallError}. */
  cancel(): void;
}

/** The gRPC status an HTTP status means when there is no `grpc-status` (the gRPC HTTP/2 spec's table). */
function fromHttpStatus(status: number): number {
  if (status === 400) return GRPC.INTERNAL;
  if (status === 401) return GRPC.UNAUTHENTICATED;
  if (status === 403) return GRPC.PERMISSION_DENIED;
  if (status === 404) return GRPC.UNIMPLEMENTED;
  if (status === 429 || status === 502 || status === 503 || status === 504) return GRPC.UNAVAILABLE;
  return GRPC.UNKNOWN;
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The status a headers or trailers block carries, if it carries one. */
function statusOf(h: IncomingHttpHeaders): GrpcCallError | 'ok' | undefined {
  const raw = header(h, 'grpc-status');
  if (raw === undefined) return undefined;
  const code = Number(raw);
  if (code === GRPC.OK) return 'ok';
  let details = header(h, 'grpc-message') ?? '';
  try {
    details = decodeURIComponent(details);
  } catch {
    // Not percent-encoded after all: shown as sent.
  }
  const bin = header(h, 'grpc-status-details-bin');
  return new GrpcCallError(
    Number.isInteger(code) ? code : GRPC.UNKNOWN,
    details,
    bin ? Buffer.from(bin, 'base64') : undefined,
  );
}

/** One HTTP/2 connection to a unix socket, opened at the first call and again after it broke. */
export class GrpcChannel {
  readonly #socketPath: string;
  readonly #maxMessageBytes: number;
  #session: ClientHttp2Session | undefined;

  /** `maxMessageBytes`: a larger message ends the call with `RESOURCE_EXHAUSTED`. */
  constructor(socketPath: string, maxMessageBytes: number) {
    this.#socketPath = socketPath;
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** Closes the connection. Idempotent. */
  close(): void {
    this.#session?.close();
    this.#session = undefined;
  }

  /** A unary call: the one answer, or a {@link GrpcCallError} (`DEADLINE_EXCEEDED` after `timeoutMs`). */
  async unary(
    path: string,
    request: Buffer,
    o: { timeoutMs: number; signal?: AbortSignal | undefined },
  ): Promise<Buffer> {
    const call = this.serverStream(path, request, { timeoutMs: o.timeoutMs });
    const onAbort = (): void => call.cancel();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let answer: Buffer | undefined;
      for await (const m of call) answer ??= m;
      if (answer === undefined) throw new GrpcCallError(GRPC.INTERNAL, 'no answer in a unary call');
      return answer;
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Starts a server-streaming call with `request` as its one message. */
  serverStream(path: string, request: Buffer, o: { timeoutMs?: number } = {}): GrpcStream {
    const http2 = requireBuiltin<typeof import('node:http2')>('node:http2');
    let failure: GrpcCallError | undefined;
    let stream: ClientHttp2Stream;
    try {
      const session = this.#open();
      stream = session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...(o.timeoutMs ? { 'grpc-timeout': `${Math.max(1, Math.ceil(o.timeoutMs))}m` } : {}),
      });
    } catch (e) {
      return failed(new GrpcCallError(GRPC.UNAVAILABLE, (e as Error).message, undefined, e));
    }
    this.#hold();
    const frame = Buffer.allocUnsafe(5 + request.length);
    frame.writeUInt8(0, 0);
    frame.writeUInt32BE(request.length, 1);
    request.copy(frame, 5);
    stream.end(frame);

    const messages: Buffer[] = [];
    /** Bytes received and not yet taken, in order; `want`: the length of the message being read. */
    const parts: Buffer[] = [];
    let have = 0;
    let want: number | undefined;
    /** The next `n` bytes received (one copy only when they span chunks). */
    const take = (n: number): Buffer => {
      have -= n;
      const first = parts[0]!;
      if (first.length >= n) {
        parts[0] = first.subarray(n);
        if (parts[0].length === 0) parts.shift();
        return first.subarray(0, n);
      }
      const out = Buffer.allocUnsafe(n);
      for (let at = 0; at < n;) {
        const p = parts[0]!;
        const k = Math.min(p.length, n - at);
        p.copy(out, at, 0, k);
        at += k;
        if (k === p.length) parts.shift();
        else parts[0] = p.subarray(k);
      }
      return out;
    };
    let ended = false;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      wake?.();
      wake = undefined;
    };
    const end = (e?: GrpcCallError): void => {
      if (ended) return;
      ended = true;
      failure ??= e;
      clearTimeout(timer);
      notify();
    };
    const cancel = (e: GrpcCallError): void => {
      failure ??= e;
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      end();
    };
    const timer = o.timeoutMs
      ? setTimeout(
          () => cancel(new GrpcCallError(GRPC.DEADLINE_EXCEEDED, `no answer within ${o.timeoutMs} ms`)),
          o.timeoutMs,
        )
      : undefined;

    let answered = false;
    /** A `grpc-status` of OK was seen: without one, a stream that merely ended is not a success. */
    let ok = false;
    stream.on('response', (h) => {
      answered = true;
      const status = Number(h[':status']);
      const inHeaders = statusOf(h); // a trailers-only answer: the status comes with the headers
      if (inHeaders instanceof GrpcCallError) return cancel(inHeaders);
      if (inHeaders === 'ok') ok = true;
      if (status !== 200 && inHeaders === undefined)
        cancel(new GrpcCallError(fromHttpStatus(status), `the daemon answered HTTP ${status}`));
    });
    stream.on('data', (chunk: Buffer) => {
      // Chunks are kept as they come and joined once per message: a 4 MiB piece arrives in
      // hundreds of chunks, and joining at each one would copy it hundreds of times.
      parts.push(chunk);
      have += chunk.length;
      for (;;) {
        if (want === undefined) {
          if (have < 5) break;
          const head = take(5);
          if (head[0] !== 0) return cancel(new GrpcCallError(GRPC.INTERNAL, 'a compressed message, never asked for'));
          want = head.readUInt32BE(1);
          // INTERNAL, not RESOURCE_EXHAUSTED: that code from a daemon means "busy, ask again", and
          // asking again would bring the same message.
          if (want > this.#maxMessageBytes)
            return cancel(
              new GrpcCallError(
                GRPC.INTERNAL,
                `a message of ${want} bytes (more than the ${this.#maxMessageBytes} this client takes)`,
              ),
            );
        }
        if (have < want) break;
        messages.push(take(want));
        want = undefined;
      }
      // Backpressure: the reader stores each piece before it takes the next.
      if (messages.length > 2) stream.pause();
      notify();
    });
    stream.on('trailers', (h) => {
      const s = statusOf(h);
      if (s instanceof GrpcCallError) failure ??= s;
      else if (s === 'ok') answered = ok = true;
    });
    stream.on('error', (e: Error) =>
      end(new GrpcCallError(answered ? GRPC.INTERNAL : GRPC.UNAVAILABLE, e.message, undefined, e)),
    );
    stream.on('close', () => {
      this.#release();
      if (failure || ended) return end();
      // No answer at all: the daemon could not be reached (a dead socket, a refused stream).
      if (!answered) return end(new GrpcCallError(GRPC.UNAVAILABLE, 'the connection closed before an answer'));
      const code = stream.rstCode;
      if (code !== undefined && code !== http2.constants.NGHTTP2_NO_ERROR)
        return end(new GrpcCallError(GRPC.INTERNAL, `the stream was reset (HTTP/2 error ${code})`));
      if (have > 0 || want !== undefined)
        return end(new GrpcCallError(GRPC.INTERNAL, 'the answer ended inside a message'));
      // The gRPC spec: a response without a status is an error (a daemon that died mid-answer, a proxy).
      if (!ok) return end(new GrpcCallError(GRPC.INTERNAL, 'the answer ended without a gRPC status'));
      end();
    });

    async function* read(): AsyncGenerator<Buffer> {
      try {
        for (;;) {
          const m = messages.shift();
          if (m) {
            if (messages.length <= 1 && stream.isPaused()) stream.resume();
            yield m;
            continue;
          }
          if (ended) {
            if (failure) throw failure;
            return;
          }
          await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        // The reader stopped early (it threw, or broke out of the loop): the daemon stops too.
        if (!ended) cancel(new GrpcCallError(GRPC.CANCELLED, 'cancelled by the client'));
      }
    }
    const iterable = read();
    return {
      [Symbol.asyncIterator]: () => iterable,
      cancel: () => cancel(new GrpcCallError(GRPC.CANCELLED, 'cancelled by the client')),
    };
  }

  /** Calls in flight: while there is one, the connection keeps the process alive; idle, it does not. */
  #active = 0;

  #hold(): void {
    if (this.#active++ === 0) this.#session?.ref();
  }

  #release(): void {
    if (--this.#active === 0) this.#session?.unref();
  }

  #open(): ClientHttp2Session {
    const live = this.#session;
    if (live && !live.closed && !live.destroyed) return live;
    const http2 = requireBuiltin<typeof import('node:http2')>('node:http2');
    const net = requireBuiltin<typeof import('node:net')>('node:net');
    const socketPath = this.#socketPath;
    // Windows of a piece's size: HTTP/2's default 64 KiB would ask for more every 64 KiB of a piece.
    const session = http2.connect('http://localhost', {
      createConnection: () => net.connect(socketPath),
      settings: { initialWindowSize: WINDOW_BYTES },
    });
    session.once('connect', () => session.setLocalWindowSize(WINDOW_BYTES));
    // A broken connection fails the calls on it (their streams see the error); the next call opens another.
    session.on('error', () => {});
    session.on('close', () => {
      if (this.#session === session) this.#session = undefined;
    });
    // Idle, the connection does not keep the process alive (see #hold).
    if (this.#active === 0) session.unref();
    this.#session = session;
    return session;
  }
}

/** A call that could not start: it yields nothing and throws `e`. */
function failed(e: GrpcCallError): GrpcStream {
  return {
    [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(e) }),
    cancel: () => {},
  };
}
