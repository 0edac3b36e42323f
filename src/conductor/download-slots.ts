/**
 * How many downloads a manager runs at once: each holds file descriptors (sockets, the data file,
 * a lock, metadata writes, a claim), and a process that runs out of them fails every download that
 * asks for one more (EMFILE) instead of making it wait. The default follows the process's soft
 * `RLIMIT_NOFILE`; requests beyond the bound queue, and their signals and timeouts still apply.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import pLimit from 'p-limit';
import { InvalidArgumentError } from '../core/errors.js';
import { throwIfAborted } from '../internal/abort.js';

/** Descriptors one download may hold at once: up to 4 sockets, the data file, a lock, a metadata write, a claim. */
export const FDS_PER_DOWNLOAD = 8;
/** Descriptors left to everything else of the process (stdio, the event loop, modules being loaded, the host's own). */
export const FDS_RESERVED = 48;
/** The most downloads at once by default, however high the limit. */
export const MAX_DEFAULT_SLOTS = 64;

/**
 * The soft limit on open files of this process (`/proc/self/limits`); `undefined` where that cannot
 * be read (not Linux).
 */
export function openFileLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!m) return undefined;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** The default bound for a soft open-file limit (64 when unknown). */
export function defaultSlots(limit: number | undefined = openFileLimit()): number {
  if (limit === undefined || !Number.isFinite(limit)) return MAX_DEFAULT_SLOTS;
  return Math.min(MAX_DEFAULT_SLOTS, Math.max(1, Math.floor((limit - FDS_RESERVED) / FDS_PER_DOWNLOAD)));
}

/** Runs at most `size` downloads at once; the rest wait in order. */
export class DownloadSlots {
  readonly size: number;
  readonly #limit: ReturnType<typeof pLimit>;

  /** @throws InvalidArgumentError (`maxConcurrentDownloads`) for anything but an integer ≥ 1. */
  constructor(size: number = defaultSlots()) {
    if (!Number.isInteger(size) || size < 1)
      throw new InvalidArgumentError('maxConcurrentDownloads', `expected an integer ≥ 1, got ${size}`);
    this.size = size;
    this.#limit = pLimit(size);
  }

  /** Downloads waiting for a slot. */
  get waiting(): number {
    return this.#limit.pendingCount;
  }

  /**
   * Runs `f` in a slot. A request cancelled while it waits rejects at once with the signal's reason
   * and gives its turn up without running; once running, `f` answers for the signal itself (a
   * download returns only after cleaning up).
   */
  run<T>(f: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    throwIfAborted(signal);
    let started = false;
    const job = this.#limit(async () => {
      started = true;
      throwIfAborted(signal);
      return f();
    });
    if (!signal) return job;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (!started) reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      job.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }
}
