/**
 * Options of the task store, named as in Dragonfly's `storage:` block, their defaults and validation.
 *
 * @module
 */
import path from 'node:path';
import debug from 'debug';
import { type Duration, parseDuration, parseSize, type Size } from '../core/units.js';
import { InvalidArgumentError } from '../core/errors.js';
import { quote } from '../core/describe.js';
import { AdvanceStrategy, ADVANCE_STRATEGY } from './strategies/advance.js';
import { SimpleStrategy, SIMPLE_STRATEGY } from './strategies/simple.js';
import type { StorageStrategy } from './strategies/storage-strategy.js';

const log = debug('orasfly:storage');

/** The two strategy names Dragonfly knows. */
export type StorageStrategyName = 'io.d7y.storage.v2.simple' | 'io.d7y.storage.v2.advance';

/** Per-piece checksum algorithm. */
export type PieceDigestAlgorithm = 'crc32' | 'md5';

/** Options of `StorageManager.open`. */
export interface StorageOptions {
  /** Store root; relative paths are resolved against the working directory; created 0700 if missing. */
  dataPath: string;
  /**
   * `io.d7y.storage.v2.simple`, `io.d7y.storage.v2.advance`, `''` (= simple) or a custom
   * `StorageStrategy`. The spelling with a trailing dot printed in Dragonfly's oras docs
   * (`io.d7y.storage.v2.advance.`) is accepted with a warning (upstream refuses to start).
   * @defaultValue `'io.d7y.storage.v2.simple'`
   */
  strategy?: StorageStrategyName | '' | StorageStrategy | undefined;
  /**
   * Reuse completed tasks (by task id or blob digest) for new requests, by hard link. `false` keeps
   * Dragonfly's meaning — every request downloads — and then a completed entry serves nobody (there is
   * no daemon uploading it to peers), so the next GC round removes it (a process that waited for the
   * task's lock still joins it first) and copies do not pile up. `StorageManager.findCompleted` returns nothing while it is off.
   * @defaultValue `true` — unlike Dragonfly's daemon, whose `false` default keeps every copy for
   * uploading; a CLI or library without upload would only accumulate copies (one per pull).
   */
  multiplex?: boolean | undefined;
  /** Idle time (since last access) after which GC reclaims a task; `0` = never. @defaultValue `'6h'` */
  taskExpireTime?: Duration | undefined;
  /** Quota over the sum of task sizes (`'50Gi'` or bytes); `0` = off. @defaultValue `0` */
  diskGCThreshold?: Size | undefined;
  /**
   * Reclaim when the filesystem holding `dataPath` is at least this full (used %, from `statfs`);
   * `0` = off. Upstream's default, kept: past 95 % a cache should give space back.
   * @defaultValue `95`
   */
  diskGCThresholdPercent?: number | undefined;
  /** Period of the GC timer (unref'd, never keeps the process alive); `0` = no timer. @defaultValue `'1m'` */
  gcInterval?: Duration | undefined;
  /**
   * Keep the store's files on `StorageManager.close`. Upstream's daemon defaults to `false`
   * because it lives for days and the store is its working set; a library or CLI process is short
   * lived, and deleting the cache at every exit would make `multiplex` useless across runs.
   * @defaultValue `true`
   */
  keepStorage?: boolean | undefined;
  /**
   * Algorithm of the per-piece checksums kept in metadata (and of `pieceMd5Sign`). `crc32` as in
   * Dragonfly's Rust client; `md5` as in the Go daemon.
   * @defaultValue `'crc32'` — measured by `bench/storage-materialize-bench.ts` (Node 20.20, AMD EPYC, 256 MiB
   * in 4 MiB pieces): crc32 4077 MB/s, md5 627 MB/s, sha256 1445 MB/s. md5 would cost more CPU than the
   * sha256 blob digest we must compute anyway; crc32 adds ~15 %. The piece checksum only has to catch
   * torn or lost writes on resume — the blob itself is always verified against its sha256 digest.
   */
  pieceDigest?: PieceDigestAlgorithm | undefined;
  /**
   * A task lock whose holder's heartbeat (the lock file's mtime, refreshed every 5 s, or every third
   * of this time when that is shorter) has not moved for this long is taken over — a holder on another
   * host that crashed, or a reused pid. Readers' claims age the same way. At least 1 s. @defaultValue `'60s'`
   */
  lockStaleTime?: Duration | undefined;
  /**
   * Longest wait for a task lock whose holder is alive (another process downloading the same task)
   * before `beginTask` fails with `LockError`; `0` = no limit. @defaultValue `'30m'`
   */
  lockTimeout?: Duration | undefined;
  /** Clock in ms since the epoch; inject a fake one in tests. @defaultValue `Date.now` */
  now?: (() => number) | undefined;
}

/** {@link StorageOptions} after validation: every field present, durations and sizes as numbers. */
export interface ResolvedStorageOptions {
  readonly dataPath: string;
  readonly strategy: StorageStrategy;
  readonly multiplex: boolean;
  /** ms; 0 = never. */
  readonly taskExpireTime: number;
  /** bytes; 0 = off. */
  readonly diskGCThreshold: number;
  /** percent; 0 = off. */
  readonly diskGCThresholdPercent: number;
  /** ms; 0 = no timer. */
  readonly gcInterval: number;
  readonly keepStorage: boolean;
  readonly pieceDigest: PieceDigestAlgorithm;
  /** ms. */
  readonly lockStaleTime: number;
  /** ms; 0 = no limit. */
  readonly lockTimeout: number;
  readonly now: () => number;
}

/** Defaults of every optional {@link StorageOptions} field. */
export const DEFAULT_STORAGE_OPTIONS = Object.freeze({
  strategy: SIMPLE_STRATEGY as StorageStrategyName,
  multiplex: true,
  taskExpireTime: '6h' as Duration,
  diskGCThreshold: 0 as Size,
  diskGCThresholdPercent: 95,
  gcInterval: '1m' as Duration,
  keepStorage: true,
  // crc32: 6.5× md5's throughput in bench/storage-materialize-bench.ts (4077 vs 627 MB/s); see StorageOptions.pieceDigest.
  pieceDigest: 'crc32' as PieceDigestAlgorithm,
  lockStaleTime: '60s' as Duration,
  lockTimeout: '30m' as Duration,
});

/**
 * Every option name of {@link StorageOptions}, checked against the interface by the compiler: the
 * `dfget.yaml` loader accepts these names in its `storage:` block, so a new option is a config key
 * without touching the loader.
 */
export const STORAGE_OPTION_KEYS: readonly string[] = Object.freeze(
  Object.keys({
    dataPath: 1,
    strategy: 1,
    multiplex: 1,
    taskExpireTime: 1,
    diskGCThreshold: 1,
    diskGCThresholdPercent: 1,
    gcInterval: 1,
    keepStorage: 1,
    pieceDigest: 1,
    lockStaleTime: 1,
    lockTimeout: 1,
    now: 1,
  } satisfies Record<keyof StorageOptions, 1>),
);

/**
 * Validates options, filling in defaults.
 *
 * @returns the frozen resolved options and human-readable warnings (e.g. a trailing-dot strategy name).
 * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) naming the field, e.g. `storage.strategy`.
 */
export function resolveStorageOptions(o: StorageOptions): { options: ResolvedStorageOptions; warnings: string[] } {
  const warnings: string[] = [];
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError('storage', 'expected an options object');
  if (typeof o.dataPath !== 'string' || o.dataPath.trim() === '')
    throw new InvalidArgumentError(
      'storage.dataPath',
      o.dataPath === undefined || o.dataPath === ''
        ? 'a directory path is required'
        : `expected a string, got ${quote(o.dataPath)}`,
    );
  const strategy = resolveStrategy(o.strategy, warnings);
  const bool = (v: unknown, field: string, d: boolean): boolean => {
    if (v === undefined) return d;
    if (typeof v !== 'boolean')
      throw new InvalidArgumentError(`storage.${field}`, `expected a boolean, got ${typeof v}`);
    return v;
  };
  const pct = o.diskGCThresholdPercent ?? DEFAULT_STORAGE_OPTIONS.diskGCThresholdPercent;
  if (typeof pct !== 'number' || !Number.isFinite(pct) || pct < 0 || pct > 100) {
    throw new InvalidArgumentError(
      'storage.diskGCThresholdPercent',
      `expected a number from 0 (off) to 100, got ${String(pct)}`,
    );
  }
  const pieceDigest = o.pieceDigest ?? DEFAULT_STORAGE_OPTIONS.pieceDigest;
  if (pieceDigest !== 'crc32' && pieceDigest !== 'md5')
    throw new InvalidArgumentError(
      'storage.pieceDigest',
      `expected "crc32" or "md5", got ${JSON.stringify(pieceDigest)}`,
    );
  if (o.now !== undefined && typeof o.now !== 'function')
    throw new InvalidArgumentError('storage.now', 'expected a function returning ms');
  const options: ResolvedStorageOptions = Object.freeze({
    dataPath: path.resolve(o.dataPath),
    strategy,
    multiplex: bool(o.multiplex, 'multiplex', DEFAULT_STORAGE_OPTIONS.multiplex),
    taskExpireTime: parseDuration(o.taskExpireTime ?? DEFAULT_STORAGE_OPTIONS.taskExpireTime, 'storage.taskExpireTime'),
    diskGCThreshold: parseSize(o.diskGCThreshold ?? DEFAULT_STORAGE_OPTIONS.diskGCThreshold, 'storage.diskGCThreshold'),
    diskGCThresholdPercent: pct,
    gcInterval: parseDuration(o.gcInterval ?? DEFAULT_STORAGE_OPTIONS.gcInterval, 'storage.gcInterval'),
    keepStorage: bool(o.keepStorage, 'keepStorage', DEFAULT_STORAGE_OPTIONS.keepStorage),
    pieceDigest,
    lockStaleTime: atLeast(
      parseDuration(o.lockStaleTime ?? DEFAULT_STORAGE_OPTIONS.lockStaleTime, 'storage.lockStaleTime'),
      MIN_LOCK_STALE_MS,
      'storage.lockStaleTime',
      // Below it, a live holder busy in a long synchronous step could be taken for dead.
      'a lock or claim must outlive several heartbeats',
    ),
    lockTimeout: parseDuration(o.lockTimeout ?? DEFAULT_STORAGE_OPTIONS.lockTimeout, 'storage.lockTimeout'),
    now: o.now ?? Date.now,
  });
  return { options, warnings };
}

/** The least `lockStaleTime` taken (ms): a holder beats every third of it, at least three times. */
export const MIN_LOCK_STALE_MS = 1_000;

function atLeast(ms: number, min: number, field: string, why: string): number {
  if (ms < min) throw new InvalidArgumentError(field, `${ms} ms is too short (at least ${min} ms: ${why})`);
  return ms;
}

function resolveStrategy(s: StorageOptions['strategy'], warnings: string[]): StorageStrategy {
  if (s === undefined || s === '') return new SimpleStrategy();
  if (typeof s === 'object' && s !== null) {
    if (typeof s.name !== 'string' || typeof s.locate !== 'function' || typeof s.create !== 'function') {
      throw new InvalidArgumentError('storage.strategy', 'a custom strategy needs name, locate() and create()');
    }
    return s;
  }
  if (typeof s !== 'string')
    throw new InvalidArgumentError('storage.strategy', `expected a strategy name, got ${typeof s}`);
  let name: string = s;
  if (name.endsWith('.') && (name.slice(0, -1) === SIMPLE_STRATEGY || name.slice(0, -1) === ADVANCE_STRATEGY)) {
    name = name.slice(0, -1);
    const w =
      `storage.strategy ${JSON.stringify(s)} has a trailing dot (as printed in Dragonfly's ` +
      `oras docs); using ${name}. Dragonfly itself refuses this spelling: not support store strategy: ${s}`;
    warnings.push(w);
    log(w);
  }
  if (name === SIMPLE_STRATEGY) return new SimpleStrategy();
  if (name === ADVANCE_STRATEGY) return new AdvanceStrategy();
  // Dragonfly's own start-up error text, so users grepping for it find us.
  throw new InvalidArgumentError(
    'storage.strategy',
    `not support store strategy: ${s} (use ${SIMPLE_STRATEGY} or ${ADVANCE_STRATEGY})`,
  );
}
