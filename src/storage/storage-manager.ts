/**
 * The task store: a thin facade over its parts. Opening reads no per-task state (constant time,
 * whatever the store holds); entries are found on demand by task id (their directory) or blob digest
 * (the on-disk index), recovered lazily under their task lock, and collected by GC rounds that run at
 * most once per `gcInterval` across every process sharing the store. Behaviour follows Dragonfly's
 * `client/daemon/storage` with its known bugs fixed (see docs/storage-and-gc.md).
 *
 * Parts: `store-layout.ts` (paths, the marker, what may be deleted), `entry.ts` (an entry and the
 * entries this process uses), `digest-index.ts`, `validate.ts`, `entry-files.ts` (load, remove),
 * `unreadable-entry.ts` (entries whose metadata cannot be read), `ingest.ts` (resume or create),
 * `task-writer.ts`, `gc-round.ts` (+ the pure planner `gc.ts`), `task-lock.ts`, `materialize.ts`,
 * `leftovers.ts` (temp files of killed processes), `lookup.ts` (finding, pinning, materialising and
 * dropping completed entries), `reader-claims.ts` (readers other processes see),
 * `completion-holds.ts` (a just-completed entry kept until its output exists).
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import debug from 'debug';
import { ClosedError, InvalidArgumentError, StorageError } from '../core/errors.js';
import type { SignalOptions } from '../core/types.js';
import { DigestIndex } from './digest-index.js';
import { EntryTable, type Entry, type TaskEntry } from './entry.js';
import { removeEntryFiles, type EntryFilesContext } from './entry-files.js';
import { EntryLookup } from './lookup.js';
import { CompletionHolds } from './completion-holds.js';
import { ReaderClaims } from './reader-claims.js';
import { throwIfAborted } from './fs-util.js';
import { type GcContext, type GcReport, runGcRound } from './gc-round.js';
import { GcScheduler, stampRound } from './gc-schedule.js';
import {
  cleanEntries,
  listEntries,
  storeUsage,
  verifyEntries,
  type CacheEntryInfo,
  type CleanReport,
  type InspectContext,
  type StorageUsage,
  type VerifyReport,
} from './inspect.js';
import { checkBeginRequest, openEntry, type BeginTaskRequest, type IngestContext } from './ingest.js';
import type { MaterializeResult } from './materialize.js';
import { writeMetadata } from './metadata.js';
import { type ResolvedStorageOptions, resolveStorageOptions, type StorageOptions } from './options.js';
import { assertOutputPath } from './output-path.js';
import { assertTaskIdName, claimStoreRoot, StoreLayout } from './store-layout.js';
import { RegistryCache } from './registry-cache.js';
import { assertDigest } from '../core/digest.js';
import { acquireTaskLock } from './task-lock.js';
import { commitEntry, TaskWriterImpl, type EntryStore, type TaskWriter } from './task-writer.js';

export type { TaskEntry } from './entry.js';
export type { TaskWriter } from './task-writer.js';
export type { BeginTaskRequest } from './ingest.js';
export type { GcReport } from './gc-round.js';
export type { CacheEntryInfo, CleanReport, StorageUsage, VerifyReport } from './inspect.js';
export { bootId } from './validate.js';
export type { DropEvent, FindOptions, GcOptions, LockWaitEvent, OpenOptions, StorageEvents } from './manager-types.js';
import type { FindOptions, GcOptions, OpenOptions, StorageEvents } from './manager-types.js';

const log = debug('orasfly:storage');

const gcLog = debug('orasfly:gc');

/**
 * The task store.
 *
 * @example
 * ```ts
 * import { createHash } from 'node:crypto';
 * import os from 'node:os';
 * import path from 'node:path';
 * import { StorageManager } from 'orasfly';
 * import { createPieceHasher, peerId, pieceAt, planPieces, taskId } from 'orasfly/dragonfly';
 *
 * // Where the store lives: your choice (the CLI uses /var/lib/dragonfly as root, XDG otherwise).
 * const store = await StorageManager.open({ dataPath: path.join(os.tmpdir(), 'orasfly-store') });
 * // What is stored: here bytes we have; normally a blob from a registry, its digest from the manifest.
 * const bytes = Buffer.from('hello, store');
 * const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
 * const id = taskId('oras://example/lab/hello:v1', { digest });
 * const plan = planPieces(bytes.length);
 * const output = path.join(os.tmpdir(), 'hello.txt');
 * const r = await store.beginTask({ taskId: id, peerId: peerId(), digest, contentLength: bytes.length, pieceSize: plan.pieceSize, output });
 * if ('reuse' in r) {
 *   await store.materialize(r.reuse, output); // a hard link: no byte copied
 * } else {
 *   for (let num = 0; num < plan.totalPieces; num++) {
 *     const { range } = pieceAt(plan, num);
 *     const piece = bytes.subarray(range.start, range.start + range.length);
 *     await r.writer.write(piece, range.start);
 *     const h = createPieceHasher(store.options.pieceDigest);
 *     h.update(piece);
 *     r.writer.recordPiece({ num, range, digest: h.digest() });
 *   }
 *   // The bytes are ours here; a download is verified first (PeerTaskConductor does): the store records the digest.
 *   const entry = await r.writer.complete({ digest });
 *   await store.materialize(entry, output);
 * }
 * await store.close();
 * ```
 */
export class StorageManager extends EventEmitter<StorageEvents> {
  /** Validated options. */
  readonly options: Readonly<ResolvedStorageOptions>;
  /** Warnings found while validating options (also logged). */
  readonly warnings: readonly string[];
  readonly #layout: StoreLayout;
  #registry: RegistryCache | undefined;
  readonly #index: DigestIndex;
  readonly #table = new EntryTable();
  readonly #writers = new Set<TaskWriterImpl>();
  /** Entries this manager created (for `keepStorage: false`). */
  readonly #created = new Set<Entry>();
  readonly #scheduler: GcScheduler;
  readonly #lookup: EntryLookup;
  readonly #claims: ReaderClaims;
  /** Entries completed for an output, held until it exists. */
  readonly #holds: CompletionHolds;
  #closed = false;

  private constructor(options: ResolvedStorageOptions, warnings: string[]) {
    super();
    this.options = options;
    this.warnings = Object.freeze([...warnings]);
    this.#layout = new StoreLayout(options.dataPath);
    this.#index = new DigestIndex(options.dataPath);
    this.#claims = new ReaderClaims(this.#layout.claimsDir, options.lockStaleTime);
    this.#lookup = new EntryLookup({
      files: this.#files,
      claims: this.#claims,
      options,
      onDrop: (d) => this.emit('drop', d),
    });
    this.#holds = new CompletionHolds((e) => this.#lookup.pin(e));
    this.#scheduler = new GcScheduler({
      layout: this.#layout,
      options,
      round: (opts) => runGcRound(this.#gc, opts),
      onReport: (report) => this.emit('gc', report),
      onError: (e) => gcLog('gc round failed: %s', (e as Error).message),
    });
  }

  /** What the store remembers of registries (manifests by digest, tags, loopback schemes): `registry-cache.ts`. */
  get registryCache(): RegistryCache {
    return (this.#registry ??= new RegistryCache(this.#layout.root));
  }

  /**
   * Validates options and claims `dataPath` (created 0700 and marked when new). Reads no per-task
   * state: constant time whatever the store holds. Starts the unref'd GC timer.
   *
   * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) naming the bad option (`storage.strategy`, …).
   * @throws StorageError (`ERR_ORASFLY_STORAGE`) when `dataPath` cannot be created, or is a non-empty directory orasfly did not create.
   */
  static async open(options: StorageOptions, opts: OpenOptions = {}): Promise<StorageManager> {
    const { options: resolved, warnings } = resolveStorageOptions(options);
    for (const w of warnings) log(w);
    const m = new StorageManager(resolved, warnings);
    throwIfAborted(opts.signal);
    const claimed = await claimStoreRoot(resolved.dataPath);
    try {
      await Promise.all(
        [m.#layout.locksDir, m.#layout.claimsDir, m.#index.root].map((d) => fsp.mkdir(d, { recursive: true })),
      );
    } catch (e) {
      throw new StorageError(
        `cannot create data path ${resolved.dataPath}: ${(e as Error).message}`,
        resolved.dataPath,
        { cause: e },
      );
    }
    // A new store has nothing to collect: its first round is one gcInterval away.
    if (claimed === 'created') await stampRound(m.#layout, resolved).catch(() => {});
    if (opts.gcTimer !== false) m.#scheduler.startTimer();
    return m;
  }

  // ---------------------------------------------------------------- contexts of the parts

  get #files(): EntryFilesContext {
    return { layout: this.#layout, index: this.#index, table: this.#table, log, claims: this.#claims };
  }

  get #ingest(): IngestContext {
    return {
      ...this.#files,
      strategy: this.options.strategy,
      pieceDigest: this.options.pieceDigest,
      now: this.options.now,
    };
  }

  get #gc(): GcContext {
    return { ...this.#files, options: this.options, gcLog };
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError('StorageManager', this.options.dataPath);
  }

  // ---------------------------------------------------------------- lookup

  /**
   * A completed, valid (size + stat fingerprint), not reclaim-marked entry by task id or blob digest
   * (task id first, newest completion first), completed by any process. Refreshes its last access.
   * Invalid entries met on the way are dropped (event `drop`). Returns `undefined` while `multiplex`
   * is off, unless `ignoreMultiplex`.
   *
   * @throws InvalidArgumentError for a malformed task id or digest; StorageError when closed.
   */
  async findCompleted(
    key: { taskId?: string | undefined; digest?: string | undefined },
    opts: FindOptions = {},
  ): Promise<TaskEntry | undefined> {
    this.#assertOpen();
    throwIfAborted(opts.signal);
    if (key.taskId !== undefined) assertTaskIdName(key.taskId);
    if (key.digest !== undefined) assertDigest(key.digest);
    if (!this.options.multiplex && !opts.ignoreMultiplex) return undefined;
    return this.#lookup.find(key, opts.signal);
  }

  // ---------------------------------------------------------------- outputs

  /**
   * Makes `output` a hard link to the entry's data (copy across filesystems or when linking is
   * refused), atomically: temp name in the output directory, then rename over the target. An existing
   * output survives until the rename and is untouched on failure. A reader pin keeps GC of this process
   * away meanwhile; the entry's data is re-validated first and an invalid entry is dropped.
   *
   * @throws InvalidArgumentError (`output`) for a path that is not a regular file or lies in the store.
   * @throws StorageError (`ERR_ORASFLY_STORAGE`) naming the path (entry gone, invalid, or I/O failure).
   * @throws StorageQuotaError (`ERR_ORASFLY_STORAGE_QUOTA`) when a copy, or the reader claim, finds no space.
   */
  async materialize(entry: TaskEntry, output: string, opts: SignalOptions = {}): Promise<MaterializeResult> {
    this.#assertOpen();
    if (typeof output !== 'string' || output === '')
      throw new InvalidArgumentError('output', 'an output path is required');
    await assertOutputPath(path.resolve(output), this.options.dataPath);
    try {
      return await this.#lookup.materialize(entry, path.resolve(output), opts);
    } finally {
      // The completion hold's job ends with the first output (or the first attempt at one). Requests
      // joined to the same task pin the entry as they start theirs, before this one has finished.
      await this.#holds.release(entry);
    }
  }

  /**
   * Pins a completed entry so GC of this process never deletes its files while you read them (e.g.
   * serving pieces to peers). A pinned entry can still be marked for reclaim — it is then no longer
   * offered for reuse — and its files go when the last pin is released.
   *
   * @throws StorageError when the entry is no longer in the store.
   */
  async pin(entry: TaskEntry): Promise<{ readonly dataFilePath: string; release(): Promise<void> }> {
    this.#assertOpen();
    const { entry: e, release } = await this.#lookup.pin(entry);
    let released = false;
    return {
      dataFilePath: e.meta.dataFilePath,
      release: async () => {
        if (released) return;
        released = true;
        await release();
      },
    };
  }

  /**
   * Removes a completed entry now, if nobody uses it (its task lock is free and no reader of this
   * process pins it). The task manager calls it when `multiplex` is off: such an entry serves nobody.
   *
   * @returns whether it was removed.
   */
  async remove(entry: TaskEntry): Promise<boolean> {
    this.#assertOpen();
    const e = await this.#lookup.entryOf(entry);
    return e ? this.#lookup.removeLocked(e, 'not reusable (multiplex off)') : false;
  }

  // ---------------------------------------------------------------- writing

  /**
   * The one reuse decision, and the start of a download. Returns `{ reuse }` — a completed entry
   * with the same task id or, with `multiplex`, the same blob digest and size — or `{ writer }` to
   * write the task under its cross-process lock:
   *
   * 1. with `multiplex`, a lookup without the lock (the common, instant case);
   * 2. the task lock: waits while a live process holds it (event `lockWait` at once, then `LockError`
   *    after `lockTimeout`), takes over a holder that is dead or whose heartbeat stopped for
   *    `lockStaleTime`;
   * 3. under the lock, the lookup again (with `multiplex`, or when we waited: the holder was
   *    downloading this task, and joining it is what Dragonfly does);
   * 4. lazy recovery of this task's directory: garbage removed, an interrupted entry with the same
   *    digest, size and piece size resumed (its recorded pieces re-hashed, only matching ones kept);
   * 5. otherwise a new entry, after checking that the declared size fits.
   *
   * @throws InvalidArgumentError naming the bad field; StorageQuotaError when the blob cannot fit;
   * StorageError / LockError on filesystem failures or a lock wait past `lockTimeout`; the signal's
   * reason on abort.
   */
  async beginTask(
    req: BeginTaskRequest,
    opts: SignalOptions = {},
  ): Promise<{ writer: TaskWriter } | { reuse: TaskEntry }> {
    this.#assertOpen();
    checkBeginRequest(req);
    const fits = (e: TaskEntry | undefined): TaskEntry | undefined =>
      e && e.contentLength === req.contentLength && (req.digest === undefined || e.digest === req.digest)
        ? e
        : undefined;
    const key = { taskId: req.taskId, digest: req.digest };
    if (this.options.multiplex) {
      const hit = fits(await this.findCompleted(key, opts));
      if (hit) return { reuse: hit };
    }
    const lock = await acquireTaskLock(this.#layout.lockPath(req.taskId), {
      signal: opts.signal,
      staleMs: this.options.lockStaleTime,
      timeoutMs: this.options.lockTimeout,
      onWait: (h, w) =>
        this.emit('lockWait', {
          taskId: req.taskId,
          pid: h.pid,
          hostname: h.hostname,
          since: w.since,
          staleMs: w.staleMs,
          timeoutMs: w.timeoutMs,
        }),
    });
    try {
      if (this.options.multiplex || lock.waited) {
        const hit = fits(
          await this.findCompleted(this.options.multiplex ? key : { taskId: req.taskId }, { ignoreMultiplex: true }),
        );
        if (hit) {
          await lock.release();
          return { reuse: hit };
        }
      }
      const { entry, fh, resumed } = await openEntry(this.#ingest, req, this.options);
      // Only `keepStorage: false` needs them (removed at close): otherwise the set would grow with every task.
      if (!this.options.keepStorage) this.#created.add(entry);
      if (req.output !== undefined) this.#holds.expect(entry);
      const w = new TaskWriterImpl(this.#entryStore, entry, fh, lock, resumed);
      this.#writers.add(w);
      return { writer: w };
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /** What writers may do to the store. */
  readonly #entryStore: EntryStore = {
    persist: (e) => {
      e.touch(this.options.now());
      return writeMetadata(e.metaPath, e.meta);
    },
    commit: async (e, digest, fp) => {
      const entry = await commitEntry(e, digest, fp, { index: this.#index, now: this.options.now(), log });
      // Still under the task lock: from here until its output exists the entry is claimed.
      await this.#holds
        .completed(entry)
        .catch((err: unknown) => log('completion hold failed: %s', (err as Error).message));
      return entry;
    },
    release: async (w, e, keep) => {
      this.#writers.delete(w);
      this.#holds.forget(e);
      e.writing = false;
      if (!keep) {
        await removeEntryFiles(this.#files, e, 'aborted');
        this.#created.delete(e);
      } else e.touch(this.options.now());
      this.#table.settle(e);
    },
    validateDigest: (d) => assertDigest(d),
  };

  // ---------------------------------------------------------------- GC

  /**
   * Runs one GC round now, over everything in the store (entries of other processes included).
   * Order: invalid entries (and those whose metadata cannot be read, reported in `invalid`), expiry
   * by last access, then quota / disk-usage eviction (entries that free space first, least recently
   * used first). An entry is deleted only under its task lock, never while a process writes, reads
   * (pins) or holds it. `dryRun` reports without deleting.
   */
  async gc(opts: GcOptions = {}): Promise<GcReport> {
    this.#assertOpen();
    throwIfAborted(opts.signal);
    return this.#scheduler.run(opts);
  }

  /**
   * Starts a GC round in the background if one is due: at most one round per `gcInterval` across
   * every process sharing the store (a stamp file records the last round, a lock makes one process
   * run it). Called by the task manager after each pull, off its critical path, and by the timer.
   * Resolves with the report, or `undefined` when no round was due; never rejects.
   */
  gcSoon(): Promise<GcReport | undefined> {
    if (this.#closed) return Promise.resolve(undefined);
    return this.#scheduler.soon();
  }

  /**
   * Claims the due GC round for someone else to run (the CLI hands it to a detached process, so
   * that its own exit never waits for a round): when a round is due, records it in the stamp, so no
   * other process starts one for `gcInterval`, and resolves `true`. Run it with {@link gc}.
   */
  async claimGcRound(): Promise<boolean> {
    if (this.#closed) return false;
    return this.#scheduler.claim();
  }

  // ---------------------------------------------------------------- inspection and cache commands

  get #inspect(): InspectContext {
    return {
      files: this.#files,
      options: this.options,
      removeLocked: (e, reason) => this.#lookup.removeLocked(e, reason),
      onDrop: (d) => this.emit('drop', d),
    };
  }

  /**
   * Every entry of the store (`orasfly cache list`), most recently used first; one whose metadata
   * cannot be read is listed too, with state `unreadable`.
   */
  list(opts: SignalOptions = {}): Promise<CacheEntryInfo[]> {
    this.#assertOpen();
    return listEntries(this.#inspect, opts);
  }

  /** Store accounting from a scan: entries, bytes, and which bytes deleting would actually free. */
  usage(opts: SignalOptions = {}): Promise<StorageUsage> {
    this.#assertOpen();
    return storeUsage(this.#inspect, opts);
  }

  /**
   * Re-hashes every complete entry (`orasfly cache verify`) and removes those whose data no longer
   * matches its digest or fingerprint, so the next pull downloads afresh, and those whose metadata
   * cannot be read (reported apart, in `unreadable`). Entries in use are skipped.
   */
  verify(opts: GcOptions = {}): Promise<VerifyReport> {
    this.#assertOpen();
    return verifyEntries(this.#inspect, opts);
  }

  /**
   * Removes entries (`orasfly cache clean`): all of them, or those matching a selector — a blob
   * digest (`sha256:…`), a task id, or the reference they were pulled for. Never one in use.
   */
  clean(selectors: readonly string[] = [], opts: GcOptions = {}): Promise<CleanReport> {
    this.#assertOpen();
    return cleanEntries(this.#inspect, selectors, opts);
  }

  /**
   * Stops GC (waiting for a running round) and closes open writers (their progress is kept for
   * resume when `keepStorage`). With `keepStorage: false` every entry this manager created is
   * deleted; outputs are never touched. Idempotent.
   */
  async close(opts: SignalOptions = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#scheduler.stop();
    throwIfAborted(opts.signal);
    for (const w of [...this.#writers]) await w.abort({ keepForResume: this.options.keepStorage }).catch(() => {});
    await this.#holds.releaseAll();
    await this.#claims.releaseAll();
    if (!this.options.keepStorage) {
      for (const e of [...this.#created]) await this.#lookup.removeLocked(e, 'keepStorage: false').catch(() => false);
    }
  }
}
