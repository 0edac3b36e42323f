/**
 * Abort helpers. An abort always rejects with the signal's own `reason`, untouched.
 *
 * @module
 * @internal
 */

/** Resolves after `ms`, or rejects with `signal.reason` the moment the signal aborts. */
export function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Throws `signal.reason` if the signal is aborted. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason;
}

/** Combines signals (undefined entries ignored). */
export function anySignal(...signals: Array<AbortSignal | undefined>): AbortSignal | undefined {
  const list = signals.filter((s): s is AbortSignal => s !== undefined);
  if (list.length <= 1) return list[0];
  return AbortSignal.any(list);
}

/**
 * Settles with `p`, or rejects with `signal.reason` as soon as the signal aborts (`p` goes on;
 * `onAbort` runs first, e.g. to detach from a shared task).
 */
export function raceSignal<T>(p: Promise<T>, signal: AbortSignal | undefined, onAbort?: () => void): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    onAbort?.();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const handler = (): void => {
      onAbort?.();
      reject(signal.reason);
    };
    signal.addEventListener('abort', handler, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', handler));
  });
}

/**
 * `body` as an iterable that ends as soon as `signal` aborts (rejecting with its reason), even when
 * the source ignores signals (a custom transport's stream): a pending `next()` is raced, and the
 * source is closed with `return()` (not awaited: a generator suspended in an await that never
 * settles would never return).
 */
export async function* abortableIterable<T>(body: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = body[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    for (;;) {
      const r = await Promise.race([it.next(), aborted]);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    signal.removeEventListener('abort', onAbort!);
    if (it.return) void Promise.resolve(it.return()).catch(() => {});
  }
}
