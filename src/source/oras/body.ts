/**
 * Registry response bodies that the client reads itself: destroyed without waiting, or read whole
 * through a byte limit with a typed error that names what broke. Kept apart from the request core
 * (`http.ts`) so a run that sends nothing through undici does not load it.
 *
 * @module
 */
import type { Readable } from 'node:stream';
import { NetworkError, OrasflyError, SizeLimitError } from '../../core/errors.js';

const noop = (): void => {};

/** Destroys a body without awaiting it (and without an unhandled `error`). */
export function destroyBody(body: Readable | undefined): void {
  if (!body) return;
  body.on('error', noop);
  body.destroy();
}

/**
 * Reads a whole body through a byte limit: `Content-Length` is checked first, then bytes are
 * counted as they arrive; over the limit the body is destroyed.
 *
 * @throws SizeLimitError (`ERR_ORASFLY_SIZE_LIMIT`) naming `what`.
 */
export async function readLimited(
  body: Readable,
  limit: number,
  what: string,
  contentLength?: string | string[],
  signal?: AbortSignal,
): Promise<Buffer> {
  const declared = Number(Array.isArray(contentLength) ? contentLength[0] : contentLength);
  if (Number.isFinite(declared) && declared > limit) {
    destroyBody(body);
    throw new SizeLimitError(what, limit);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  const onAbort = (): void => {
    body.destroy(signal?.reason instanceof Error ? signal.reason : undefined);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of body) {
      const b = chunk as Buffer;
      n += b.length;
      if (n > limit) {
        destroyBody(body);
        throw new SizeLimitError(what, limit);
      }
      chunks.push(b);
    }
  } catch (e) {
    if (signal?.aborted) throw signal.reason;
    if (e instanceof OrasflyError) throw e;
    // A body cut short, a broken chunked encoding, a reset: typed, with the parser's or socket's reason.
    const reason = firstMessage(e);
    throw new NetworkError(
      `reading the ${what} failed after ${n} bytes: ${firstCode(e)}${reason ? ` (${reason.slice(0, 200)})` : ''}`,
      { cause: e },
    );
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return Buffer.concat(chunks, n);
}

/** The error and its causes, outermost first (at most 5). */
export function errorChain(e: unknown): { code?: unknown; message?: unknown; name?: unknown }[] {
  const out: { code?: unknown; message?: unknown }[] = [];
  for (let c: unknown = e, i = 0; c && typeof c === 'object' && i < 5; c = (c as { cause?: unknown }).cause, i++)
    out.push(c as { code?: unknown });
  return out;
}

/** The most specific error message in `e`'s cause chain (an HTTP parser's reason, a socket error's text). */
export function firstMessage(e: unknown): string | undefined {
  let best: string | undefined;
  for (const c of errorChain(e))
    if (typeof c.message === 'string' && c.message !== '' && c.message !== 'fetch failed') best = c.message;
  return best;
}

export function firstCode(e: unknown): string {
  for (const c of errorChain(e)) if (typeof c.code === 'string') return c.code;
  for (const c of errorChain(e))
    if (typeof c.name === 'string' && c.name !== 'Error' && c.name !== 'TypeError') return c.name;
  return 'unknown';
}
