/**
 * Options of a piece download (`download:` in `dfget.yaml`), their defaults and validation. No
 * heavy imports: the task manager loads this without loading the conductor itself (a reuse pull
 * never needs the conductor).
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import { parseDuration, parseSize, type Duration, type Size } from '../core/units.js';

/**
 * Connections of a pull transport that has no fast path (`PieceTransport.streamPiece`) when the count
 * is not fixed: one ranged request per piece, 4 at a time.
 */
export const DEFAULT_CONCURRENCY = 4;

/**
 * The most connections a task opens when the count finds itself (`concurrency` unset): behind
 * per-connection caps (CDNs, blob stores) 4–8 connections deliver 4–8× one; past 8 registries start to
 * refuse clients, and the probe windows grow long.
 */
export const DEFAULT_MAX_CONCURRENCY = 8;

/**
 * Low-speed rule, bytes per second: 1 KiB/s over {@link DEFAULT_LOW_SPEED_TIME} (curl's
 * `--speed-limit`/`--speed-time` style) is far below any working link, and a stall is noticed within
 * half a minute instead of never (undici's body timeout restarts with every byte).
 */
export const DEFAULT_LOW_SPEED_LIMIT = 1024;
/** Window of the low-speed rule, ms. */
export const DEFAULT_LOW_SPEED_TIME = 30_000;

/** Options of a {@link PeerTaskConductor}. */
export interface ConductorOptions {
  /**
   * Connections, fixed (dfget's `--concurrency`). Unset: the count finds itself — one stream to
   * start, doubled while the throughput rises by 20 % or more, up to `maxConcurrency`
   * (`connection-tuner.ts`). @defaultValue unset
   */
  concurrency?: number | undefined;
  /** The most connections when `concurrency` is unset. @defaultValue 8 */
  maxConcurrency?: number | undefined;
  /** Piece size (bytes, or `"8Mi"`); default: Dragonfly's table (4–15 MiB by content length). */
  pieceSize?: Size | undefined;
  /**
   * Attempts at a piece before the task fails (the client also retries each request): failures in a
   * row that store no piece; a stream that stores pieces between breaks starts the count again.
   * @defaultValue 5
   */
  pieceRetries?: number;
  /** First backoff between piece attempts (ms, or `"200ms"`; doubles, with jitter). @defaultValue 200 */
  retryMinDelay?: Duration;
  /** Longest backoff between piece attempts. @defaultValue 3000 (ms) */
  retryMaxDelay?: Duration;
  /** Minimum time between `progress` events. @defaultValue 100 (ms) */
  progressInterval?: Duration;
  /** Hash the blob on a worker thread (started with the first piece stored); default: for blobs of 32 MiB and more. */
  hashOnWorker?: boolean | undefined;
  /**
   * Low-speed rule, bytes per second: a piece attempt (or the sequential stream) that receives fewer
   * than `lowSpeedLimit × lowSpeedTime` bytes in any window of `lowSpeedTime` — headers that never
   * come included — is aborted and retried, then fails the task. `0` = off. @defaultValue 1024
   */
  lowSpeedLimit?: Size;
  /** The window of the low-speed rule (ms, or `"30s"`). `0` = off. @defaultValue 30000 */
  lowSpeedTime?: Duration;
}

/** Exported defaults of {@link ConductorOptions}. */
export const DEFAULT_CONDUCTOR_OPTIONS = Object.freeze({
  maxConcurrency: DEFAULT_MAX_CONCURRENCY as number,
  pieceRetries: 5,
  retryMinDelay: 200,
  retryMaxDelay: 3000,
  progressInterval: 100,
  lowSpeedLimit: DEFAULT_LOW_SPEED_LIMIT,
  lowSpeedTime: DEFAULT_LOW_SPEED_TIME,
});

const KNOWN: Record<keyof ConductorOptions, true> = {
  concurrency: true,
  maxConcurrency: true,
  pieceSize: true,
  pieceRetries: true,
  retryMinDelay: true,
  retryMaxDelay: true,
  progressInterval: true,
  hashOnWorker: true,
  lowSpeedLimit: true,
  lowSpeedTime: true,
};

/** Every option name of {@link ConductorOptions} (the `download:` block of `dfget.yaml` takes them). */
export const CONDUCTOR_OPTION_KEYS: readonly string[] = Object.freeze(Object.keys(KNOWN));

/** Keys people look for here that live elsewhere. */
const WIRING: Record<string, string> = {
  pieceDigest: 'is a storage option: storage.pieceDigest (the store records one algorithm)',
  rateLimiter: 'is set by the task manager from download.totalRateLimit',
  totalRateLimit:
    'belongs to the downloader (createDownloader({ download: { totalRateLimit } })), not to one conductor',
};

/** {@link ConductorOptions} with defaults applied, in bytes and ms (frozen). */
export interface ResolvedConductorOptions {
  /** Fixed connections; `undefined`: the count finds itself. */
  readonly concurrency: number | undefined;
  readonly maxConcurrency: number;
  readonly pieceSize: number | undefined;
  readonly pieceRetries: number;
  readonly retryMinDelay: number;
  readonly retryMaxDelay: number;
  readonly progressInterval: number;
  readonly hashOnWorker: boolean | undefined;
  readonly lowSpeedLimit: number;
  readonly lowSpeedTime: number;
}

/**
 * Validates options, filling in defaults.
 *
 * @throws InvalidArgumentError naming the field.
 */
export function resolveConductorOptions(o: ConductorOptions = {}): ResolvedConductorOptions {
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError('download', 'expected an object');
  // An unknown key is a mistake, not a no-op: say where it belongs.
  for (const k of Object.keys(o)) {
    if (k in KNOWN) continue;
    const hint = WIRING[k];
    throw new InvalidArgumentError(`download.${k}`, hint ?? `unknown option (known: ${Object.keys(KNOWN).join(', ')})`);
  }
  const D = DEFAULT_CONDUCTOR_OPTIONS;
  const pieceSize = o.pieceSize === undefined ? undefined : parseSize(o.pieceSize, 'pieceSize');
  if (pieceSize !== undefined && !(pieceSize > 0)) throw new InvalidArgumentError('pieceSize', 'expected a size > 0');
  if (o.hashOnWorker !== undefined && typeof o.hashOnWorker !== 'boolean')
    throw new InvalidArgumentError('hashOnWorker', 'expected true or false');
  const r: ResolvedConductorOptions = {
    concurrency: o.concurrency,
    maxConcurrency: o.maxConcurrency ?? D.maxConcurrency,
    pieceSize,
    pieceRetries: o.pieceRetries ?? D.pieceRetries,
    retryMinDelay: parseDuration(o.retryMinDelay ?? D.retryMinDelay, 'retryMinDelay'),
    retryMaxDelay: parseDuration(o.retryMaxDelay ?? D.retryMaxDelay, 'retryMaxDelay'),
    progressInterval: parseDuration(o.progressInterval ?? D.progressInterval, 'progressInterval'),
    hashOnWorker: o.hashOnWorker,
    lowSpeedLimit: parseSize(o.lowSpeedLimit ?? D.lowSpeedLimit, 'lowSpeedLimit'),
    lowSpeedTime: parseDuration(o.lowSpeedTime ?? D.lowSpeedTime, 'lowSpeedTime'),
  };
  if (r.concurrency !== undefined && (!Number.isInteger(r.concurrency) || r.concurrency < 1 || r.concurrency > 64))
    throw new InvalidArgumentError('concurrency', `expected an integer 1..64, got ${r.concurrency}`);
  if (!Number.isInteger(r.maxConcurrency) || r.maxConcurrency < 1 || r.maxConcurrency > 64)
    throw new InvalidArgumentError('maxConcurrency', `expected an integer 1..64, got ${r.maxConcurrency}`);
  if (!Number.isInteger(r.pieceRetries) || r.pieceRetries < 1)
    throw new InvalidArgumentError('pieceRetries', `expected an integer ≥ 1, got ${r.pieceRetries}`);
  if (!Number.isFinite(r.lowSpeedLimit) || r.lowSpeedLimit < 0)
    throw new InvalidArgumentError('lowSpeedLimit', `expected bytes per second ≥ 0, got ${r.lowSpeedLimit}`);
  if (!Number.isFinite(r.lowSpeedTime) || r.lowSpeedTime < 0)
    throw new InvalidArgumentError('lowSpeedTime', `expected ms ≥ 0, got ${r.lowSpeedTime}`);
  return Object.freeze(r);
}
