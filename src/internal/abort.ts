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
 * the source ignores signals (a custom transport's stream): each pending `next()` is raced against
 * the abort, and the source is closed with `return()` (not awaited: a generator suspended in an
 * await that never settles would never return).
 *
 * The abort promise is made per `next()`: racing one long-lived promise would leave a reaction on it
 * per chunk, each holding that chunk (a 512 MiB stream kept every byte alive).
 */
export async function* abortableIterable<T>(body: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      });
      let r: IteratorResult<T>;
      try {
        r = await Promise.race([it.next(), aborted]);
      } finally {
        signal.removeEventListener('abort', onAbort!);
      }
      if (r.done) return;
      yield r.value;
    }
  } finally {
    if (it.return) void Promise.resolve(it.return()).catch(() => {});
  }
}
