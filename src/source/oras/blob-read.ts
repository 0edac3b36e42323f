/**
 * What a blob read asks for and what its answer must show, for both ways a body arrives: through
 * undici (`OrasResourceClient.read`) and on a connection of its own (`http/socket-get.ts`, the first
 * pull's data path). A ranged read sends `Range: bytes=a-b` and needs `206` with exactly
 * `Content-Range: bytes a-b/size`; a whole read needs `Content-Length` (when sent) to be the size.
 *
 * @module
 */
import { InvalidArgumentError, RangeNotSupportedError, SizeMismatchError, TimeoutError } from '../../core/errors.js';
import { quote } from '../../core/describe.js';
import type { ByteRange } from '../../core/types.js';
import type { BlobTarget } from '../resource-client.js';
import { directGet, DirectGetDeclined, type DirectConnect, type ResponseHead } from '../../http/socket-get.js';
import { ChunkPool } from '../../internal/chunk-pool.js';
import type { BodyMemory, ChunkSink } from '../../internal/chunks.js';
import { logSource } from './log.js';

/** @throws InvalidArgumentError for a range outside the blob. */
export function checkRange(target: BlobTarget, range: ByteRange | undefined): void {
  if (range === undefined) return;
  const { start, length } = range;
  if (
    !Number.isSafeInteger(start) ||
    !Number.isSafeInteger(length) ||
    start < 0 ||
    length < 1 ||
    start + length > target.size
  )
    throw new InvalidArgumentError('range', `span ${start}+${length} is outside the blob of ${target.size} bytes`);
}

/** The caller's headers with the range's own `Range` (any of the caller's is dropped). */
export function rangeHeaders(headers: Record<string, string> | undefined, range?: ByteRange): Record<string, string> {
  const out: Record<string, string> = { ...headers };
  for (const k of Object.keys(out)) if (k.toLowerCase() === 'range') delete out[k];
  if (range) out['range'] = `bytes=${range.start}-${range.start + range.length - 1}`;
  return out;
}

/** Why a `200`/`206` answer's head does not fit the read, or `undefined` when it does. */
export function headProblem(
  target: BlobTarget,
  range: ByteRange | undefined,
  status: number,
  contentRange: string | undefined,
  contentLength: string | undefined,
): Error | undefined {
  if (range) {
    const end = range.start + range.length - 1;
    const expected = `bytes ${range.start}-${end}/${target.size}`;
    if (status !== 206 || contentRange !== expected)
      return new RangeNotSupportedError(
        `${status === 200 ? 'server ignored Range (200)' : `unexpected Content-Range ${quote(contentRange ?? null)}`} ` +
          `for ${target.digest} bytes ${range.start}-${end}`,
      );
    if (contentLength !== undefined && Number(contentLength) !== range.length)
      return new SizeMismatchError(range.length, Number(contentLength), 'range Content-Length');
    return undefined;
  }
  if (contentLength !== undefined && Number(contentLength) !== target.size)
    return new SizeMismatchError(target.size, Number(contentLength), 'blob Content-Length');
  return undefined;
}

/** Memory for a head or a small body (a manifest): a few 64 KiB buffers, none kept afterwards. */
function smallBodyMemory(): ChunkPool {
  return new ChunkPool({ bufferBytes: 64 * 1024, keep: 0 });
}

/**
 * Blob reads on connections of their own, for a client whose requests need no proxy. Remembers the
 * blob URLs that answered with something else (a redirect to a storage backend, an auth challenge):
 * those go straight through undici from then on, so declining costs one request per URL.
 */
export class DirectBlobReads {
  readonly #connect: DirectConnect;
  readonly #declined = new Set<string>();
  /** Requests sent on connections of their own. */
  requests = 0;

  constructor(connect: DirectConnect) {
    this.#connect = connect;
  }

  /**
   * A `HEAD` of `url` on a connection of its own: the head of the registry's answer (a `200`, or an
   * error status such as `404`/`405` that asking again through undici would only repeat), or
   * `undefined` when the request should go through undici (a challenge, a redirect, a refused
   * connection, a malformed answer).
   */
  async head(url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<ResponseHead | undefined> {
    this.requests++;
    try {
      const memory = smallBodyMemory();
      return await directGet(this.#connect, {
        url: new URL(url),
        method: 'HEAD',
        headers,
        memory,
        sink: () => undefined,
        signal,
        accept: (h) => h.status === 200,
      });
    } catch (e) {
      // A deadline (no connection, no head in time) is asked again through undici, under the retry policy.
      if (e instanceof TimeoutError && !signal?.aborted) {
        logSource('direct HEAD timed out (%s): through undici', e.message);
        return undefined;
      }
      if (!(e instanceof DirectGetDeclined)) throw e;
      const status = e.head?.status;
      // An answer undici could not improve on (it would send the same HEAD and get the same status).
      if (status !== undefined && status >= 400 && status !== 401 && status !== 407) return e.head;
      logSource('direct HEAD declined (%s): through undici', e.message);
      return undefined;
    }
  }

  /**
   * A small `GET` (a manifest) on a connection of its own, its body read whole within `limit` bytes:
   * the head and the bytes of a `200`, or `undefined` when the request should go through undici
   * instead — any other status, a challenge, a redirect, a body over `limit`, a connection that
   * breaks — whose path has the retries and the errors that explain them.
   *
   * @throws the signal's reason when aborted.
   */
  async getSmall(
    url: string,
    headers: Record<string, string>,
    limit: number,
    signal?: AbortSignal,
  ): Promise<{ head: ResponseHead; bytes: Buffer } | undefined> {
    this.requests++;
    const parts: Buffer[] = [];
    let n = 0;
    try {
      const head = await directGet(this.#connect, {
        url: new URL(url),
        headers,
        memory: smallBodyMemory(),
        sink: (c) => {
          n += c.length;
          if (n > limit) throw new Error(`body over ${limit} bytes`);
          parts.push(Buffer.from(c)); // a copy: the view's memory goes back to the pool
          return undefined;
        },
        signal,
        accept: (h) => h.status === 200 && !(Number(h.headers['content-length']) > limit),
      });
      return { head, bytes: Buffer.concat(parts, n) };
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      logSource('direct GET of %s not used (%s): through undici', url, (e as Error).message);
      return undefined;
    }
  }

  /**
   * Streams the body of `url` into `sink`. Resolves `false`, having read nothing, when the request
   * should go through undici instead.
   */
  async stream(
    url: string,
    target: BlobTarget,
    range: ByteRange | undefined,
    headers: Record<string, string>,
    o: { sink: ChunkSink; memory: BodyMemory; signal?: AbortSignal | undefined },
  ): Promise<boolean> {
    if (this.#declined.has(url)) return false;
    this.requests++;
    try {
      await directGet(this.#connect, {
        url: new URL(url),
        headers,
        memory: o.memory,
        sink: o.sink,
        signal: o.signal,
        accept: (head) => {
          // A whole read takes a 200 only (a 206 is part of the blob): anything else goes through
          // undici, whose answer and error are the client's.
          if (!range && head.status !== 200) return false;
          const p = headProblem(
            target,
            range,
            head.status,
            head.headers['content-range'],
            head.headers['content-length'],
          );
          if (p) throw p;
          return true;
        },
      });
      return true;
    } catch (e) {
      if (!(e instanceof DirectGetDeclined)) throw e;
      // A status is the server's choice for this URL; a connection failure may pass: ask again next time.
      if (e.head) {
        if (this.#declined.size > 1000) this.#declined.clear();
        this.#declined.add(url);
      }
      logSource('direct read of %s declined (%s): through undici', target.digest, e.message);
      return false;
    }
  }
}
