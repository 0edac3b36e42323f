/**
 * The task store: where downloaded tasks live, how a finished task becomes the user's output file,
 * multiplex reuse, GC, restart and cross-process coordination. Behaviour follows Dragonfly's
 * `client/daemon/storage` (reference §5) with its known bugs fixed (§9).
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import os from 'node:os';
import { createReadStream, promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import debug from 'debug';
import { InvalidArgumentError, StorageError, StorageQuotaError } from '../errors.js';
import type { ByteRange, SignalOptions } from '../source/resource-client.js';
import { planPieces, pieceAt } from './piece-plan.js';
import { errno, rmdirQuiet, throwIfAborted, TMP_MARK, unlinkQuiet, writeFileAtomic } from './fs-util.js';
import { assertFits, availableBytes } from './free-space.js';
import { assertOutputPath } from './output-path.js';
import { claimStoreRoot, isPeerIdName, isRealDirectory, isTaskIdName, removePeerDir } from './store-layout.js';
import { type DiskUsage, type GcCandidate, planGc } from './gc.js';
import { materializeFile, type MaterializeResult } from './materialize.js';
import { METADATA_VERSION, type PieceRecord, readMetadata, type TaskMetadata, writeMetadata } from './metadata.js';
import { type ResolvedStorageOptions, resolveStorageOptions, type StorageOptions, type StorageStrategyName } from './options.js';
import { hashFileRange, isPieceDigest, pieceSign, splitPieceDigest } from './piece-digest.js';
import { ADVANCE_STRATEGY, HIDDEN_MARK } from './strategies/advance.js';
import type { StoreLink, StrategyContext } from './strategies/storage-strategy.js';
import { acquireTaskLock, liveHolder, pidAlive, type TaskLock } from './task-lock.js';
import { quote } from '../internal/describe.js';

const log = debug('orasfly:storage');
const gcLog = debug('orasfly:gc');

/** A completed entry of the store, as handed to callers. A snapshot: fields do not update. */
export interface TaskEntry {
  readonly taskId: string;
  readonly peerId: string;
  /** Blob digest (`sha256:<hex>`), when known. */
  readonly digest?: string | undefined;
  readonly contentLength: number;
  readonly totalPieces: number;
  /** The real data file (simple: `<dataPath>/<taskID>/<peerID>/data`; advance: the hidden file next to the first output). */
  readonly dataFilePath: string;
  readonly storeStrategy: StorageStrategyName | string;
  /** Dragonfly's `pieceMd5Sign` (sha256 over the piece digest hex strings). */
  readonly pieceMd5Sign: string;
  /** ms since epoch. */
  readonly lastAccess: number;
  /** ms since epoch. */
  readonly completedAt: number;
}

/** Arguments of {@link StorageManager.beginTask}. */
export interface BeginTaskRequest {
  /** Dragonfly task id (64 hex); used as a directory name, so it must be a safe path segment. */
  taskId: string;
  /** Peer id of this request (`<ip>-<pid>-<uuid>`); a resumed task keeps its original peer id. */
  peerId: string;
  /** Blob digest, if known up front; indexed at completion. */
  digest?: string | undefined;
  /** Blob size in bytes (≥ 0). */
  contentLength: number;
  /** Piece size in bytes (> 0). */
  pieceSize: number;
  /** Absolute output path; the advance strategy gives birth to the data file next to it. */
  output?: string | undefined;
  /** Dragonfly `taskMeta`, stored verbatim. */
  taskMeta?: Record<string, unknown> | undefined;
}

/** Writes one task. Obtained from {@link StorageManager.beginTask}; finish with `complete` or `abort`. */
export interface TaskWriter {
  readonly taskId: string;
  /** The peer id the data is stored under (the original one when resuming). */
  readonly peerId: string;
  readonly dataFilePath: string;
  readonly contentLength: number;
  readonly pieceSize: number;
  readonly totalPieces: number;
  /** Verified pieces already present (non-empty when resuming), and every piece recorded since. */
  readonly pieces: ReadonlyMap<number, PieceRecord>;
  /** Whether this writer resumed an interrupted entry. */
  readonly resumed: boolean;
  /**
   * Writes bytes at `position` of the data file; an array of buffers is written contiguously with one `writev`.
   * @throws InvalidArgumentError when the span leaves `[0, contentLength)`; StorageError on I/O errors.
   */
  write(data: Uint8Array | readonly Uint8Array[], position: number): Promise<void>;
  /**
   * Records a verified piece (its bytes must have been written). Progress metadata (`done:false`) is
   * persisted atomically in the background, at most every 250 ms or every 16 pieces, and on `flush`.
   * @throws InvalidArgumentError when the piece does not match the piece plan or its digest is malformed.
   */
  recordPiece(p: PieceRecord): void;
  /** Persists progress now; rethrows a failed background persist. */
  flush(): Promise<void>;
  /**
   * Finishes the task: all pieces must be recorded; metadata is written `done:true` (with this
   * boot's id: the data is not fsync'ed, so an entry from an earlier boot is re-hashed once before
   * reuse)
   * with the stat fingerprint, the blob digest is indexed, and the task lock released.
   * @throws StorageError when pieces are missing, the size is wrong, or writing fails (the writer can then still `abort`).
   */
  complete(info: { digest: string }): Promise<TaskEntry>;
  /**
   * Stops writing and releases the lock. Default: deletes the entry (data, store dirs, advance hidden
   * file). `keepForResume`: persists progress so a later `beginTask` resumes from the verified pieces.
   */
  abort(opts?: { keepForResume?: boolean }): Promise<void>;
}

/** Result of one GC round. */
export interface GcReport {
  /** `<taskId>/<peerId>` of entries reclaimed because they were idle longer than `taskExpireTime`. */
  expired: string[];
  /** Entries reclaimed by the quota or disk-usage trigger, oldest first. */
  evicted: string[];
  /** Entries whose files were deleted in this round (marked ones wait while a reader pins them). */
  reclaimed: string[];
  /** Bytes really freed (entries whose data inode no output shared). */
  freedBytes: number;
  /** Σ task sizes − `diskGCThreshold` before the round (≤ 0: no excess). */
  quotaExcess: number;
  /** Bytes above the `diskGCThresholdPercent` mark before the round. */
  usageExcess: number;
  /** Bytes that still should have been freed ("no enough tasks to gc"). */
  remaining: number;
  /** Filesystem usage of `dataPath`, when the percent trigger is on. */
  disk?: DiskUsage | undefined;
}

/** Store accounting, as of the last access or GC round. */
export interface StorageUsage {
  /** Entries (completed and interrupted). */
  tasks: number;
  /** Σ content lengths. */
  bytes: number;
  /** Bytes only the store holds: deleting those entries frees them. */
  exclusiveBytes: number;
  /** Bytes still hard-linked by outputs: deleting those entries frees nothing. */
  sharedBytes: number;
}

/** Why an entry was dropped without being served. */
export interface DropEvent {
  taskId: string;
  peerId: string;
  reason: string;
}

/** Events of {@link StorageManager}. */
export interface StorageEvents {
  /** A non-fatal configuration or consistency warning. */
  warning: [message: string];
  /** An invalid entry (changed, truncated or missing data) was removed instead of being served. */
  drop: [event: DropEvent];
  /** A GC round finished. */
  gc: [report: GcReport];
  /** {@link StorageManager.beginTask} found the task lock held by another live process and waits for it. */
  lockWait: [info: { taskId: string; pid: number; hostname: string }];
}

/** Options of {@link StorageManager.findCompleted}. */
export interface FindOptions extends SignalOptions {
  /** Look up even when `multiplex` is off (e.g. to join a task another process just finished). */
  ignoreMultiplex?: boolean | undefined;
}

interface Entry {
  meta: TaskMetadata;
  peerDir: string;
  metaPath: string;
  storeDataPath: string;
  storeLink: StoreLink;
  lastAccess: number;
  expiryBase: number;
  marked: boolean;
  pins: number;
  writing: boolean;
  nlink: number;
}

const DIGEST_RE = /^([a-z0-9]+):([a-f0-9]{32,128})$/;
const PERSIST_EVERY_MS = 250;
const PERSIST_EVERY_PIECES = 16;

let cachedBootId: string | undefined;

/**
 * Identifies the current boot: Linux's boot id, elsewhere the boot time to the minute (a false
 * "new boot" only costs one re-hash).
 */
export function bootId(): string {
  if (cachedBootId) return cachedBootId;
  try {
    cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    cachedBootId = `boot-${Math.round((Date.now() / 1000 - os.uptime()) / 60)}`;
  }
  return cachedBootId;
}

/** Number of pieces of a blob: ⌈length / pieceSize⌉, 0 for an empty blob. */
export function pieceCount(contentLength: number, pieceSize: number): number {
  return planPieces(contentLength, pieceSize).totalPieces;
}

/** The byte range of piece `num` in the plan. */
export function pieceRange(num: number, contentLength: number, pieceSize: number): ByteRange {
  return pieceAt({ contentLength, pieceSize, totalPieces: 0 }, num).range;
}

/**
 * The task store.
 *
 * @example
 * ```ts
 * const store = await StorageManager.open({ dataPath: '/var/cache/orasfly', multiplex: true });
 * const hit = await store.findCompleted({ digest: 'sha256:…' });
 * if (hit) await store.materialize(hit, '/out/img.sif');
 * else {
 *   const r = await store.beginTask({ taskId, peerId, digest, contentLength, pieceSize: 4 << 20, output: '/out/img.sif' });
 *   if ('reuse' in r) await store.materialize(r.reuse, '/out/img.sif');
 *   else { // write pieces: await r.writer.write(buf, pos); r.writer.recordPiece({ num, range, digest })
 *     const entry = await r.writer.complete({ digest });
 *     await store.materialize(entry, '/out/img.sif');
 *   }
 * }
 * await store.close();
 * ```
 */
export class StorageManager extends EventEmitter<StorageEvents> {
  /** Validated options. */
  readonly options: Readonly<ResolvedStorageOptions>;
  /** Warnings found while validating options (also logged and emitted as `warning`). */
  readonly warnings: readonly string[];
  readonly #tasks = new Map<string, Map<string, Entry>>();
  readonly #byDigest = new Map<string, Set<Entry>>();
  readonly #writers = new Set<TaskWriterImpl>();
  #timer: NodeJS.Timeout | undefined;
  #gcRunning: Promise<GcReport> | undefined;
  #closed = false;
  readonly #loadedAt: number;

  private constructor(options: ResolvedStorageOptions, warnings: string[]) {
    super();
    this.options = options;
    this.warnings = Object.freeze([...warnings]);
    this.#loadedAt = options.now();
  }

  /**
   * Validates options, creates `dataPath` (0700), reloads existing entries and starts the unref'd
   * GC timer.
   *
   * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) naming the bad option (`storage.strategy`, …).
   * @throws StorageError (`ERR_ORASFLY_STORAGE`) when `dataPath` cannot be created or read.
   */
  static async open(options: StorageOptions, opts: SignalOptions = {}): Promise<StorageManager> {
    const { options: resolved, warnings } = resolveStorageOptions(options);
    const m = new StorageManager(resolved, warnings);
    for (const w of warnings) queueMicrotask(() => m.emit('warning', w));
    await m.#init(opts);
    return m;
  }

  // ---------------------------------------------------------------- paths

  #taskDir(taskId: string): string {
    return path.join(this.options.dataPath, taskId);
  }
  #lockPath(taskId: string): string {
    return path.join(this.options.dataPath, '.locks', `${taskId}.lock`);
  }
  #indexPath(digest: string): string {
    const m = DIGEST_RE.exec(digest);
    if (!m) throw new InvalidArgumentError('digest', `expected <alg>:<hex>, got ${quote(digest)}`);
    return path.join(this.options.dataPath, '.index', m[1]!, m[2]!);
  }

  // ---------------------------------------------------------------- open / reload

  async #init(opts: SignalOptions): Promise<void> {
    const root = this.options.dataPath;
    // Marker first: a directory that is not ours is refused before anything is created or deleted in it.
    await claimStoreRoot(root);
    try {
      await fsp.mkdir(path.join(root, '.locks'), { recursive: true });
      await fsp.mkdir(path.join(root, '.index'), { recursive: true });
    } catch (e) {
      throw new StorageError(`cannot create data path ${root}: ${(e as Error).message}`, root, { cause: e });
    }
    const t0 = Date.now();
    let names: string[];
    try {
      names = await fsp.readdir(root);
    } catch (e) {
      throw new StorageError(`cannot read data path ${root}: ${(e as Error).message}`, root, { cause: e });
    }
    const tasks = names.filter(isTaskIdName);
    log('start to reload task data from disk, count: %d', tasks.length);
    const skipped = new Set<string>();
    for (const taskId of tasks) {
      throwIfAborted(opts.signal);
      // Clean only what nobody writes: a task dir whose lock a live process holds is left alone.
      const lock = await acquireTaskLock(this.#lockPath(taskId), { tryOnly: true });
      if (!lock) {
        skipped.add(taskId);
        continue;
      }
      try {
        await this.#loadTaskDir(taskId, true);
      } finally {
        await lock.release();
      }
    }
    await this.#cleanIndex(skipped);
    await this.#cleanLocks();
    log('reload task data from disk done, cost: %dms', Date.now() - t0);
    if (this.options.gcInterval > 0) {
      this.#timer = setInterval(() => {
        this.gc().catch((e: unknown) => gcLog('gc round failed: %s', (e as Error).message));
      }, this.options.gcInterval);
      this.#timer.unref();
    }
  }

  /** The data file may only be deleted if it is ours: inside dataPath, or an advance hidden file. */
  #ownsDataFile(p: string, peerId: string, storeDataPath?: string): boolean {
    const rel = path.relative(this.options.dataPath, p);
    // Inside dataPath only the entry's own `data` is ours: tampered metadata must not name another entry's files.
    if (!rel.startsWith('..') && !path.isAbsolute(rel)) return storeDataPath !== undefined && path.resolve(p) === storeDataPath;
    // Outside dataPath only a hidden file of exactly this peer's name shape is ours to delete, so
    // tampered metadata cannot point the store at a user's file.
    const base = path.basename(p);
    return base.startsWith('.') && (base.endsWith(`${HIDDEN_MARK}.${peerId}`) || /^\.[0-9a-f]{64}\.dfget\.cache$/.test(base));
  }

  /**
   * Loads the entries of one task directory that are not in memory yet. With `clean` (the caller
   * holds the task lock) garbage is removed and interrupted entries are loaded for resume; without
   * it only completed entries are loaded and nothing is deleted.
   */
  async #loadTaskDir(taskId: string, clean: boolean): Promise<void> {
    const dir = this.#taskDir(taskId);
    // Never follow a symbolic link in place of a task directory: its target is not ours.
    if (!(await isRealDirectory(dir))) return;
    let peers: string[];
    try {
      peers = await fsp.readdir(dir);
    } catch {
      return;
    }
    for (const peerId of peers) {
      const peerDir = path.join(dir, peerId);
      const known = this.#tasks.get(taskId)?.get(peerId);
      // Known and settled (done, or ours being written): keep. An unfinished entry we are not writing
      // may have been resumed and completed by another process since: re-read it.
      if (known && (known.meta.done || known.writing || known.pins > 0)) continue;
      if (known) this.#unregister(known);
      if (!isPeerIdName(peerId)) {
        if (clean && peerId.startsWith(TMP_MARK)) await unlinkQuiet(peerDir).catch(() => {});
        continue;
      }
      const st = await fsp.lstat(peerDir).catch(() => undefined);
      if (!st?.isDirectory()) continue;
      await this.#loadPeer(taskId, peerId, clean);
    }
    if (clean) {
      const left = await fsp.readdir(dir).catch(() => ['?']);
      if (left.length === 0) {
        await rmdirQuiet(dir);
        log('remove empty task dir %s', dir);
      }
    }
  }

  async #loadPeer(taskId: string, peerId: string, clean: boolean): Promise<Entry | undefined> {
    const peerDir = path.join(this.#taskDir(taskId), peerId);
    const metaPath = path.join(peerDir, 'metadata');
    const storeDataPath = path.join(peerDir, 'data');
    let meta: TaskMetadata | undefined;
    let why = 'no metadata';
    try {
      meta = await readMetadata(metaPath);
      if (meta && (meta.taskId !== taskId || meta.peerId !== peerId)) {
        why = 'metadata names another task';
        meta = undefined;
      }
    } catch (e) {
      why = (e as Error).message;
    }
    if (!meta) {
      if (clean) {
        log('load task from disk error: %s', why);
        await this.#removeGarbagePeer(peerDir);
      }
      return undefined;
    }
    if (!meta.done && !clean) return undefined;
    const mst = await fsp.stat(metaPath).catch(() => undefined);
    const lastAccess = Math.max(meta.ext.lastAccess, mst?.mtimeMs ?? 0);
    const lst = await fsp.lstat(storeDataPath).catch(() => undefined);
    const storeLink: StoreLink = meta.dataFilePath === storeDataPath ? 'self' : lst?.isSymbolicLink() ? 'symlink' : 'hardlink';
    const e: Entry = {
      meta,
      peerDir,
      metaPath,
      storeDataPath,
      storeLink,
      lastAccess,
      // Upstream restarts expiry at reload (acceptance 27); LRU order keeps the recorded access time.
      expiryBase: Math.max(lastAccess, this.#loadedAt),
      marked: false,
      pins: 0,
      writing: false,
      nlink: 1,
    };
    if (clean) {
      const names = await fsp.readdir(peerDir).catch(() => [] as string[]);
      await Promise.all(names.filter((n) => n.startsWith(TMP_MARK)).map((n) => unlinkQuiet(path.join(peerDir, n)).catch(() => {})));
    }
    if (meta.done) {
      if (!(await this.#validate(e))) {
        // Without our fingerprint (metadata written by Dragonfly itself) an entry cannot be trusted.
        if (clean) await this.#removeFiles(e, 'invalid data at reload');
        return undefined;
      }
    } else {
      const ok = await fsp.stat(meta.dataFilePath).then((s) => s.isFile()).catch(() => false);
      if (!ok || !this.#ownsDataFile(meta.dataFilePath, meta.peerId, storeDataPath)) {
        await this.#removeFiles(e, 'interrupted entry without data');
        return undefined;
      }
    }
    this.#register(e);
    return e;
  }

  /** A peer dir without valid metadata: remove `data` (and a hidden symlink target), tmp files, the dir. */
  async #removeGarbagePeer(peerDir: string): Promise<void> {
    const data = path.join(peerDir, 'data');
    try {
      const lst = await fsp.lstat(data);
      if (lst.isSymbolicLink()) {
        const target = path.resolve(peerDir, await fsp.readlink(data));
        if (this.#ownsDataFile(target, path.basename(peerDir))) await unlinkQuiet(target).catch(() => {});
      }
    } catch {
      /* no data */
    }
    if (await removePeerDir(peerDir)) log('remove load error file %s ok', peerDir);
    else log('left %s in place: it holds files the store did not create', peerDir);
  }

  async #cleanIndex(skip: ReadonlySet<string>): Promise<void> {
    const root = path.join(this.options.dataPath, '.index');
    for (const alg of await fsp.readdir(root).catch(() => [] as string[])) {
      const dir = path.join(root, alg);
      for (const hex of await fsp.readdir(dir).catch(() => [] as string[])) {
        const f = path.join(dir, hex);
        if (hex.startsWith(TMP_MARK)) {
          if (!pidAlive(Number(hex.slice(TMP_MARK.length).split('.').at(-2)))) await unlinkQuiet(f).catch(() => {});
          continue;
        }
        const ref = await this.#readIndex(f);
        if (ref && skip.has(ref.taskId)) continue;
        if (!ref || !this.#tasks.get(ref.taskId)?.get(ref.peerId)?.meta.done) await unlinkQuiet(f).catch(() => {});
      }
    }
  }

  async #cleanLocks(): Promise<void> {
    const dir = path.join(this.options.dataPath, '.locks');
    for (const n of await fsp.readdir(dir).catch(() => [] as string[])) {
      if (n.endsWith('.lock')) {
        // tryOnly takes a dead holder's lock over; releasing it leaves nothing behind.
        const l = await acquireTaskLock(path.join(dir, n), { tryOnly: true }).catch(() => undefined);
        await l?.release();
      } else if (n.startsWith(TMP_MARK)) {
        // `.orasfly-tmp-lock.<pid>.<rand>`: remove only a dead process's leftovers.
        const pid = Number(n.split('.').at(-2));
        if (!pidAlive(pid)) await unlinkQuiet(path.join(dir, n)).catch(() => {});
      }
    }
  }

  async #readIndex(f: string): Promise<{ taskId: string; peerId: string } | undefined> {
    try {
      const j = JSON.parse(await fsp.readFile(f, 'utf8')) as { taskId?: unknown; peerId?: unknown };
      return typeof j.taskId === 'string' && typeof j.peerId === 'string' && isTaskIdName(j.taskId) && isPeerIdName(j.peerId) ? { taskId: j.taskId, peerId: j.peerId } : undefined;
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------------- in-memory index

  #register(e: Entry): void {
    let peers = this.#tasks.get(e.meta.taskId);
    if (!peers) this.#tasks.set(e.meta.taskId, (peers = new Map()));
    peers.set(e.meta.peerId, e);
    if (e.meta.done && e.meta.ext.digest) {
      let s = this.#byDigest.get(e.meta.ext.digest);
      if (!s) this.#byDigest.set(e.meta.ext.digest, (s = new Set()));
      s.add(e);
    }
  }

  #unregister(e: Entry): void {
    const peers = this.#tasks.get(e.meta.taskId);
    if (peers?.get(e.meta.peerId) === e) {
      peers.delete(e.meta.peerId);
      if (peers.size === 0) this.#tasks.delete(e.meta.taskId);
    }
    const d = e.meta.ext.digest;
    if (d) {
      const s = this.#byDigest.get(d);
      s?.delete(e);
      if (s?.size === 0) this.#byDigest.delete(d);
    }
  }

  #storeLinks(e: Entry): number {
    return e.storeLink === 'hardlink' ? 2 : 1;
  }

  #toTaskEntry(e: Entry): TaskEntry {
    const m = e.meta;
    return Object.freeze({
      taskId: m.taskId,
      peerId: m.peerId,
      digest: m.ext.digest,
      contentLength: m.contentLength,
      totalPieces: m.totalPieces,
      dataFilePath: m.dataFilePath,
      storeStrategy: m.storeStrategy,
      pieceMd5Sign: m.pieceMd5Sign,
      lastAccess: e.lastAccess,
      completedAt: m.ext.completedAt ?? 0,
    });
  }

  // ---------------------------------------------------------------- validation and removal

  /**
   * The path to read a completed entry's bytes from, if the data still is what was completed: same
   * inode, size and mtime as at completion. Upstream compares sizes only, so an output edited in place
   * (it shares the inode!) was served to the next pull. Falls back to the store's `data` link when the
   * advance hidden file was deleted by the user but the inode lives on.
   */
  async #validate(e: Entry): Promise<string | undefined> {
    const fp = e.meta.ext.fingerprint;
    if (!e.meta.done || !fp) return undefined;
    for (const p of new Set([e.meta.dataFilePath, e.storeDataPath])) {
      const st = await fsp.stat(p).catch(() => undefined);
      if (st?.isFile() && st.size === e.meta.contentLength && st.size === fp.size && st.ino === fp.ino && st.mtimeMs === fp.mtimeMs) {
        e.nlink = st.nlink;
        return p;
      }
    }
    return undefined;
  }

  /**
   * Completion does not fsync the data: a killed process cannot lose page-cache data, and a flush
   * of 1 GiB costs ~0.5 s on the download's critical path. What a power loss can lose, a reboot
   * reveals: an entry completed in another boot is re-hashed against its digest once, before its
   * first reuse, and then stamped with this boot.
   */
  async #verifiedThisBoot(e: Entry, dataPath: string): Promise<boolean> {
    const current = bootId();
    if (e.meta.ext.bootId === current) return true;
    const digest = e.meta.ext.digest;
    if (!digest) return false;
    const [alg, hex] = digest.split(':');
    if (alg !== 'sha256' && alg !== 'sha512') return false;
    const h = createHash(alg);
    for await (const chunk of createReadStream(dataPath, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
    if (h.digest('hex') !== hex) return false;
    e.meta.ext.bootId = current;
    await writeMetadata(e.metaPath, e.meta).catch((err: unknown) => log('cannot stamp %s/%s: %s', e.meta.taskId, e.meta.peerId, (err as Error).message));
    log('task %s/%s re-verified after a reboot', e.meta.taskId, e.meta.peerId);
    return true;
  }

  /** Deletes an entry's files (never an output) and forgets it. Errors are logged; the caller may retry. */
  async #removeFiles(e: Entry, reason: string): Promise<boolean> {
    let ok = true;
    const tryDo = async (what: string, f: () => Promise<void>): Promise<void> => {
      try {
        await f();
      } catch (err) {
        ok = false;
        log('remove %s of %s/%s failed: %s', what, e.meta.taskId, e.meta.peerId, (err as Error).message);
      }
    };
    const d = e.meta.dataFilePath;
    if (d !== e.storeDataPath && this.#ownsDataFile(d, e.meta.peerId)) await tryDo(d, () => unlinkQuiet(d));
    await tryDo(e.storeDataPath, () => unlinkQuiet(e.storeDataPath));
    await tryDo(e.metaPath, () => unlinkQuiet(e.metaPath));
    await tryDo(e.peerDir, async () => {
      if (!(await removePeerDir(e.peerDir))) throw new Error('directory holds files the store did not create');
    });
    await rmdirQuiet(this.#taskDir(e.meta.taskId));
    const dg = e.meta.ext.digest;
    if (dg && e.meta.done) {
      const f = this.#indexPath(dg);
      const ref = await this.#readIndex(f);
      if (ref && ref.taskId === e.meta.taskId && ref.peerId === e.meta.peerId) await unlinkQuiet(f).catch(() => {});
    }
    if (ok) this.#unregister(e);
    log('task %s/%s removed (%s)', e.meta.taskId, e.meta.peerId, reason);
    return ok;
  }

  async #drop(e: Entry, reason: string): Promise<void> {
    log('drop %s/%s: %s', e.meta.taskId, e.meta.peerId, reason);
    e.marked = true;
    this.#unregister(e);
    await this.#removeFiles(e, reason);
    this.emit('drop', { taskId: e.meta.taskId, peerId: e.meta.peerId, reason });
  }

  async #touch(e: Entry): Promise<void> {
    const now = this.options.now();
    e.lastAccess = now;
    e.meta.ext.lastAccess = now;
    e.expiryBase = Math.max(e.expiryBase, now);
    // Recorded as the metadata file's mtime: cheap (no rewrite, no fsync) and visible to other processes.
    await fsp.utimes(e.metaPath, now / 1000, now / 1000).catch(() => {});
  }

  #assertOpen(): void {
    if (this.#closed) throw new StorageError('storage manager is closed', this.options.dataPath);
  }

  // ---------------------------------------------------------------- lookup and reuse

  /**
   * A completed, valid (size + stat fingerprint), not reclaim-marked entry by task id or blob digest
   * (task id first, newest completion first). Refreshes its last access. Invalid entries met on the
   * way are dropped (event `drop`). Entries completed by other processes are found too (the task
   * directory and the on-disk digest index are read on a miss). Returns `undefined` while
   * `multiplex` is off, unless `ignoreMultiplex`.
   *
   * @throws InvalidArgumentError for a malformed digest; StorageError when closed.
   */
  async findCompleted(key: { taskId?: string | undefined; digest?: string | undefined }, opts: FindOptions = {}): Promise<TaskEntry | undefined> {
    this.#assertOpen();
    throwIfAborted(opts.signal);
    if (!this.options.multiplex && !opts.ignoreMultiplex) return undefined;
    if (key.taskId !== undefined) {
      if (!isTaskIdName(key.taskId)) throw new InvalidArgumentError('taskId', `not a task id (64 lower-case hex): ${JSON.stringify(String(key.taskId).slice(0, 80))}`);
      const hit = await this.#firstValid(() => [...(this.#tasks.get(key.taskId!)?.values() ?? [])]);
      if (hit) return hit;
      await this.#loadTaskDir(key.taskId, false);
      const hit2 = await this.#firstValid(() => [...(this.#tasks.get(key.taskId!)?.values() ?? [])]);
      if (hit2) return hit2;
    }
    if (key.digest !== undefined) {
      const f = this.#indexPath(key.digest);
      const hit = await this.#firstValid(() => [...(this.#byDigest.get(key.digest!) ?? [])]);
      if (hit) return hit;
      const ref = await this.#readIndex(f);
      if (ref && !this.#tasks.get(ref.taskId)?.has(ref.peerId)) await this.#loadPeer(ref.taskId, ref.peerId, false);
      return this.#firstValid(() => [...(this.#byDigest.get(key.digest!) ?? [])]);
    }
    return undefined;
  }

  async #firstValid(list: () => Entry[]): Promise<TaskEntry | undefined> {
    const cands = list()
      .filter((e) => e.meta.done && !e.marked)
      .sort((a, b) => (b.meta.ext.completedAt ?? 0) - (a.meta.ext.completedAt ?? 0));
    for (const e of cands) {
      const src = await this.#validate(e);
      if (src && (await this.#verifiedThisBoot(e, src))) {
        await this.#touch(e);
        return this.#toTaskEntry(e);
      }
      await this.#drop(e, src ? 'data does not match its digest after a reboot' : 'data changed, truncated or missing since completion');
    }
    return undefined;
  }

  /**
   * Makes `output` a hard link to the entry's data (copy across filesystems or when linking is
   * refused), atomically: temp name in the output directory, then rename over the target. An existing
   * output survives until the rename and is untouched on failure. A reader pin keeps GC away meanwhile.
   * The entry's data is re-validated first; an invalid entry is dropped and this rejects.
   *
   * @throws StorageError (`ERR_ORASFLY_STORAGE`) naming the path (entry gone, invalid, or I/O failure).
   */
  async materialize(entry: TaskEntry, output: string, opts: SignalOptions = {}): Promise<MaterializeResult> {
    this.#assertOpen();
    if (typeof output !== 'string' || output === '') throw new InvalidArgumentError('output', 'an output path is required');
    await assertOutputPath(path.resolve(output), this.options.dataPath);
    const e = this.#tasks.get(entry.taskId)?.get(entry.peerId);
    if (!e || !e.meta.done || e.marked) throw new StorageError(`task ${entry.taskId}/${entry.peerId} is no longer in the store`, entry.dataFilePath);
    e.pins++;
    let invalid = false;
    try {
      const src = await this.#validate(e);
      if (!src) {
        invalid = true;
        throw new StorageError(`cache data of task ${entry.taskId}/${entry.peerId} changed since completion; not reused`, e.meta.dataFilePath);
      }
      const r = await materializeFile(src, path.resolve(output), opts);
      if (r.method === 'link') e.nlink++;
      await this.#touch(e);
      return r;
    } finally {
      e.pins--;
      if (invalid) await this.#drop(e, 'data changed, truncated or missing since completion');
      else if (e.marked && e.pins === 0) await this.#removeFiles(e, 'reclaimed after last reader');
    }
  }

  /**
   * Pins a completed entry so GC never deletes its files while you read them yourself (e.g. serving
   * pieces to peers). A pinned entry can still be marked for reclaim — it is then no longer offered
   * for reuse — and its files go when the last pin is released.
   *
   * @throws StorageError when the entry is no longer in the store.
   */
  pin(entry: TaskEntry): { readonly dataFilePath: string; release(): Promise<void> } {
    this.#assertOpen();
    const e = this.#tasks.get(entry.taskId)?.get(entry.peerId);
    if (!e || !e.meta.done || e.marked) throw new StorageError(`task ${entry.taskId}/${entry.peerId} is no longer in the store`, entry.dataFilePath);
    e.pins++;
    let released = false;
    return {
      dataFilePath: e.meta.dataFilePath,
      release: async () => {
        if (released) return;
        released = true;
        e.pins--;
        if (e.marked && e.pins === 0) await this.#removeFiles(e, 'reclaimed after last reader');
      },
    };
  }

  // ---------------------------------------------------------------- writing

  /**
   * Starts (or resumes) writing a task under the cross-process per-task lock (waits while a live
   * process holds it; takes over a lock whose process is dead). Once the lock is ours a completed entry
   * is looked for again — with `multiplex`, or when we had to wait (the other holder was downloading the
   * same task: joining it is what Dragonfly does in-process) — and returned as `{ reuse }`.
   * An interrupted entry with the same task id, digest, content length and piece size is resumed:
   * its recorded pieces are re-hashed and only the matching ones kept.
   *
   * @throws InvalidArgumentError naming the bad field; StorageError / LockError on filesystem failures;
   * the signal's reason on abort (only the wait for the lock is cancellable).
   */
  async beginTask(req: BeginTaskRequest, opts: SignalOptions = {}): Promise<{ writer: TaskWriter } | { reuse: TaskEntry }> {
    this.#assertOpen();
    if (!isTaskIdName(req.taskId)) throw new InvalidArgumentError('taskId', `not a task id (64 lower-case hex): ${JSON.stringify(String(req.taskId).slice(0, 80))}`);
    if (!isPeerIdName(req.peerId)) throw new InvalidArgumentError('peerId', `not a peer id (<ip>-<pid>-<uuid>): ${JSON.stringify(String(req.peerId).slice(0, 80))}`);
    if (!Number.isSafeInteger(req.contentLength) || req.contentLength < 0) throw new InvalidArgumentError('contentLength', `expected a non-negative integer, got ${req.contentLength}`);
    if (!Number.isSafeInteger(req.pieceSize) || req.pieceSize <= 0) throw new InvalidArgumentError('pieceSize', `expected a positive integer, got ${req.pieceSize}`);
    if (req.digest !== undefined) this.#indexPath(req.digest);
    if (req.output !== undefined && (typeof req.output !== 'string' || req.output === '')) throw new InvalidArgumentError('output', 'expected a path');
    const lock = await acquireTaskLock(this.#lockPath(req.taskId), {
      signal: opts.signal,
      onWait: (h) => this.emit('lockWait', { taskId: req.taskId, pid: h.pid, hostname: h.hostname }),
    });
    try {
      if (this.options.multiplex || lock.waited) {
        const found = await this.findCompleted(this.options.multiplex ? { taskId: req.taskId, digest: req.digest } : { taskId: req.taskId }, { ignoreMultiplex: true });
        if (found) {
          await lock.release();
          return { reuse: found };
        }
      }
      await this.#loadTaskDir(req.taskId, true);
      const resumed = await this.#resume(req);
      if (resumed) {
        const w = new TaskWriterImpl(this.#hooks, resumed.e, resumed.fh, lock, true);
        this.#writers.add(w);
        return { writer: w };
      }
      await this.#assertRoom(req);
      const e = await this.#create(req);
      let fh: fsp.FileHandle;
      try {
        fh = await fsp.open(e.meta.dataFilePath, 'r+');
      } catch (err) {
        await this.#removeFiles(e, 'cannot open data file');
        throw new StorageError(`cannot open data file ${e.meta.dataFilePath}: ${(err as Error).message}`, e.meta.dataFilePath, { cause: err });
      }
      const w = new TaskWriterImpl(this.#hooks, e, fh, lock, false);
      this.#writers.add(w);
      return { writer: w };
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  async #resume(req: BeginTaskRequest): Promise<{ e: Entry; fh: fsp.FileHandle } | undefined> {
    const peers = [...(this.#tasks.get(req.taskId)?.values() ?? [])].filter((e) => !e.meta.done && !e.writing && !e.marked);
    let best: Entry | undefined;
    for (const e of peers) {
      const x = e.meta;
      if (x.contentLength === req.contentLength && x.ext.pieceSize === req.pieceSize && x.ext.digest === req.digest) {
        if (!best || x.pieces.size > best.meta.pieces.size) best = e;
      }
    }
    // Unfinished entries of this task that cannot serve this request are dead weight: we hold the lock.
    for (const e of peers) if (e !== best) await this.#removeFiles(e, 'superseded interrupted entry');
    if (!best) return undefined;
    const m = best.meta;
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(m.dataFilePath, 'r+');
    } catch {
      await this.#removeFiles(best, 'interrupted entry lost its data');
      return undefined;
    }
    const buf = Buffer.allocUnsafe(Math.min(req.pieceSize, 1 << 20));
    const kept = new Map<number, PieceRecord>();
    const total = pieceCount(m.contentLength, req.pieceSize);
    for (const p of [...m.pieces.values()].sort((a, b) => a.num - b.num)) {
      const want = p.num < total ? pieceRange(p.num, m.contentLength, req.pieceSize) : undefined;
      if (!want || want.start !== p.range.start || want.length !== p.range.length) continue;
      const got = await hashFileRange(fh, p.range.start, p.range.length, splitPieceDigest(p.digest).alg, buf).catch(() => undefined);
      if (got === p.digest) kept.set(p.num, p);
    }
    log('resume %s/%s: %d of %d recorded pieces verified', m.taskId, m.peerId, kept.size, m.pieces.size);
    m.pieces = kept;
    best.writing = true;
    best.lastAccess = this.options.now();
    m.ext.lastAccess = best.lastAccess;
    try {
      await writeMetadata(best.metaPath, m);
    } catch (err) {
      best.writing = false;
      await fh.close();
      throw err;
    }
    return { e: best, fh };
  }

  /**
   * The declared size must fit where the data file is born (the store, or the output directory for
   * advance) and, when the output lives on another filesystem (a copy, not a link), there as well.
   */
  async #assertRoom(req: BeginTaskRequest): Promise<void> {
    const outDir = req.output === undefined ? undefined : path.dirname(path.resolve(req.output));
    const dataDir = outDir !== undefined && this.options.strategy.name === ADVANCE_STRATEGY ? outDir : this.options.dataPath;
    const dirs = [dataDir];
    if (outDir !== undefined && outDir !== dataDir) {
      const [a, b] = await Promise.all([availableBytes(dataDir), availableBytes(outDir)]);
      if (a && b && a.dev !== b.dev) dirs.push(outDir);
    }
    await assertFits(req.contentLength, dirs, `blob ${req.digest ?? req.taskId}`);
  }

  async #create(req: BeginTaskRequest): Promise<Entry> {
    const peerDir = path.join(this.#taskDir(req.taskId), req.peerId);
    try {
      await fsp.mkdir(this.#taskDir(req.taskId), { recursive: true, mode: 0o700 });
      await fsp.mkdir(peerDir, { mode: 0o700 });
    } catch (err) {
      if (errno(err) === 'EEXIST') throw new InvalidArgumentError('peerId', `task ${req.taskId} already has a peer ${req.peerId}`);
      throw new StorageError(`cannot create ${peerDir}: ${(err as Error).message}`, peerDir, { cause: err });
    }
    const ctx: StrategyContext = {
      dataPath: this.options.dataPath,
      taskId: req.taskId,
      peerId: req.peerId,
      peerDir,
      storeDataPath: path.join(peerDir, 'data'),
      output: req.output === undefined ? undefined : path.resolve(req.output),
    };
    const now = this.options.now();
    const e: Entry = {
      meta: {
        storeStrategy: this.options.strategy.name,
        taskId: req.taskId,
        taskMeta: req.taskMeta ?? {},
        contentLength: req.contentLength,
        totalPieces: pieceCount(req.contentLength, req.pieceSize),
        peerId: req.peerId,
        pieces: new Map(),
        pieceMd5Sign: '',
        dataFilePath: ctx.storeDataPath,
        done: false,
        header: null,
        ext: { version: METADATA_VERSION, digest: req.digest, pieceDigest: this.options.pieceDigest, pieceSize: req.pieceSize, lastAccess: now, storeLink: 'self' },
      },
      peerDir,
      metaPath: path.join(peerDir, 'metadata'),
      storeDataPath: ctx.storeDataPath,
      storeLink: 'self',
      lastAccess: now,
      expiryBase: now,
      marked: false,
      pins: 0,
      writing: true,
      nlink: 1,
    };
    try {
      const loc = await this.options.strategy.locate(ctx);
      e.meta.dataFilePath = path.resolve(loc.dataFilePath);
      e.meta.storeStrategy = loc.storeStrategy;
      // Metadata first: a crash from here on leaves an entry reload can find and clean (upstream leaked
      // the advance hidden file when it crashed before writing metadata).
      await writeMetadata(e.metaPath, e.meta);
      e.storeLink = await this.options.strategy.create(ctx, loc);
      e.meta.ext.storeLink = e.storeLink;
    } catch (err) {
      await this.#removeFiles(e, 'create failed');
      throw err;
    }
    this.#register(e);
    log('task %s/%s registered (%s, data %s)', req.taskId, req.peerId, e.meta.storeStrategy, e.meta.dataFilePath);
    return e;
  }

  /** Internal callbacks handed to writers (keeps the manager's state private). */
  readonly #hooks: WriterHooks = {
    persist: (e) => {
      e.lastAccess = Math.max(e.lastAccess, this.options.now());
      e.meta.ext.lastAccess = e.lastAccess;
      return writeMetadata(e.metaPath, e.meta);
    },
    complete: async (e, digest, fp) => {
      const now = this.options.now();
      const m = e.meta;
      m.done = true;
      m.pieceMd5Sign = pieceSign([...m.pieces.values()].sort((a, b) => a.num - b.num).map((p) => p.digest));
      m.ext.digest = digest;
      m.ext.completedAt = now;
      m.ext.lastAccess = now;
      m.ext.fingerprint = fp;
      m.ext.bootId = bootId();
      try {
        await writeMetadata(e.metaPath, m);
      } catch (err) {
        m.done = false;
        throw err;
      }
      e.lastAccess = now;
      e.expiryBase = now;
      e.writing = false;
      e.nlink = 0;
      this.#register(e);
      // Index last: it points at metadata that is already complete. Best effort: the in-memory index
      // and the task-dir scan still find the entry if this write fails.
      const f = this.#indexPath(digest);
      await fsp.mkdir(path.dirname(f), { recursive: true }).catch(() => {});
      await writeFileAtomic(f, JSON.stringify({ taskId: m.taskId, peerId: m.peerId }), { fsync: false }).catch((err: unknown) => log('index write failed: %s', (err as Error).message));
      await this.#validate(e);
      log('task %s/%s completed (%d bytes)', m.taskId, m.peerId, m.contentLength);
      return this.#toTaskEntry(e);
    },
    finish: async (w, e, keep) => {
      this.#writers.delete(w);
      e.writing = false;
      if (!keep) await this.#removeFiles(e, 'aborted');
      else e.lastAccess = this.options.now();
    },
    validateDigest: (d) => void this.#indexPath(d),
  };

  // ---------------------------------------------------------------- GC

  /**
   * Runs one GC round now (the timer calls this every `gcInterval`). Order: expiry by last access,
   * then quota / disk-usage eviction (entries that free space first, least recently used first).
   * Tasks being written or read (pinned) are never chosen; marked entries are no longer served, and
   * their files are deleted at once (upstream waits one more interval; reader pins make that grace
   * unnecessary) — or, for a reader that pinned the entry while the round was running, when it leaves. Failed deletions are retried next round.
   * Entries completed by other processes sharing `dataPath` are picked up first.
   */
  async gc(opts: SignalOptions = {}): Promise<GcReport> {
    this.#assertOpen();
    throwIfAborted(opts.signal);
    if (!this.#gcRunning) {
      this.#gcRunning = this.#gcRound().finally(() => {
        this.#gcRunning = undefined;
      });
    }
    return this.#gcRunning;
  }

  async #gcRound(): Promise<GcReport> {
    const o = this.options;
    const now = o.now();
    // Pick up what other processes completed and accessed; forget what they reclaimed.
    for (const n of (await fsp.readdir(o.dataPath).catch(() => [] as string[])).filter(isTaskIdName)) {
      if (!this.#tasks.has(n)) await this.#loadTaskDir(n, false);
    }
    const all = [...this.#tasks.values()].flatMap((p) => [...p.values()]);
    const cands: GcCandidate[] = [];
    const byKey = new Map<string, Entry>();
    for (const e of all) {
      const key = `${e.meta.taskId}/${e.meta.peerId}`;
      byKey.set(key, e);
      const mst = await fsp.stat(e.metaPath).catch(() => undefined);
      if (!mst && !e.writing) {
        this.#unregister(e); // removed by another process
        continue;
      }
      if (mst && mst.mtimeMs > e.lastAccess && mst.mtimeMs <= now) {
        e.lastAccess = mst.mtimeMs;
        e.expiryBase = Math.max(e.expiryBase, mst.mtimeMs);
      }
      let active = e.writing || e.pins > 0;
      if (!active && !e.meta.done) active = (await liveHolder(this.#lockPath(e.meta.taskId))) !== undefined;
      if (e.meta.done) await this.#validate(e);
      cands.push({
        key,
        size: e.meta.contentLength,
        lastAccess: e.lastAccess,
        expiryBase: e.expiryBase,
        exclusive: e.meta.done ? e.nlink <= this.#storeLinks(e) : true,
        done: e.meta.done,
        active,
        marked: e.marked,
      });
    }
    let disk: DiskUsage | undefined;
    if (o.diskGCThresholdPercent > 0) {
      try {
        const s = await fsp.statfs(o.dataPath);
        const used = (s.blocks - s.bfree) * s.bsize;
        const avail = s.bavail * s.bsize;
        disk = { total: s.blocks * s.bsize, used, usedPercent: used + avail > 0 ? (used / (used + avail)) * 100 : 0 };
      } catch (err) {
        gcLog('statfs %s failed: %s', o.dataPath, (err as Error).message);
      }
    }
    const plan = planGc(cands, { now, taskExpireTime: o.taskExpireTime, diskGCThreshold: o.diskGCThreshold, diskGCThresholdPercent: o.diskGCThresholdPercent, gcInterval: o.gcInterval }, disk);
    if (plan.evicted.length > 0) gcLog('quota threshold reached, start gc oldest task, size: %d bytes', Math.max(plan.quotaExcess, plan.usageExcess));
    for (const key of [...plan.expired, ...plan.evicted]) {
      const e = byKey.get(key)!;
      e.marked = true;
      gcLog('task %s will be reclaimed, marked, last access: %s, size: %d', key, new Date(e.lastAccess).toISOString(), e.meta.contentLength);
    }
    if (plan.remaining > 0) gcLog('no enough tasks to gc, remind %d bytes', plan.remaining);
    const reclaimed: string[] = [];
    let freedBytes = 0;
    for (const e of all) {
      if (!e.marked || e.pins > 0 || e.writing) continue;
      if (!e.meta.done) {
        // Never delete an unfinished entry another process is resuming.
        const l = await acquireTaskLock(this.#lockPath(e.meta.taskId), { tryOnly: true }).catch(() => undefined);
        if (!l) continue;
        try {
          if (await this.#removeFiles(e, 'gc')) reclaimed.push(`${e.meta.taskId}/${e.meta.peerId}`);
        } finally {
          await l.release();
        }
      } else {
        const exclusive = e.nlink <= this.#storeLinks(e);
        if (await this.#removeFiles(e, 'gc')) {
          reclaimed.push(`${e.meta.taskId}/${e.meta.peerId}`);
          if (exclusive) freedBytes += e.meta.contentLength;
          gcLog('task %s/%s reclaimed', e.meta.taskId, e.meta.peerId);
        }
      }
    }
    gcLog('marked %d task(s), reclaimed %d task(s)', plan.expired.length + plan.evicted.length, reclaimed.length);
    const report: GcReport = { expired: plan.expired, evicted: plan.evicted, reclaimed, freedBytes, quotaExcess: plan.quotaExcess, usageExcess: plan.usageExcess, remaining: plan.remaining, disk };
    this.emit('gc', report);
    return report;
  }

  /** Store accounting: entries, bytes, and which bytes deleting would actually free (nlink as last seen). */
  usage(): StorageUsage {
    const u: StorageUsage = { tasks: 0, bytes: 0, exclusiveBytes: 0, sharedBytes: 0 };
    for (const peers of this.#tasks.values()) {
      for (const e of peers.values()) {
        u.tasks++;
        u.bytes += e.meta.contentLength;
        if (!e.meta.done || e.nlink <= this.#storeLinks(e)) u.exclusiveBytes += e.meta.contentLength;
        else u.sharedBytes += e.meta.contentLength;
      }
    }
    return u;
  }

  /**
   * Stops GC and closes open writers (their progress is kept for resume when `keepStorage`). With
   * `keepStorage: false` every entry this manager knows is deleted (data, hidden files, dirs, index);
   * outputs are never touched. Idempotent.
   */
  async close(opts: SignalOptions = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#gcRunning?.catch(() => {});
    throwIfAborted(opts.signal);
    for (const w of [...this.#writers]) await w.abort({ keepForResume: this.options.keepStorage }).catch(() => {});
    if (!this.options.keepStorage) {
      for (const peers of [...this.#tasks.values()]) {
        for (const e of [...peers.values()]) {
          const l = await acquireTaskLock(this.#lockPath(e.meta.taskId), { tryOnly: true }).catch(() => undefined);
          if (!l) continue;
          try {
            await this.#removeFiles(e, 'keepStorage: false');
          } finally {
            await l.release();
          }
        }
      }
    }
  }
}

// ------------------------------------------------------------------ writer

interface WriterHooks {
  persist(e: Entry): Promise<void>;
  complete(e: Entry, digest: string, fp: { ino: number; size: number; mtimeMs: number }): Promise<TaskEntry>;
  finish(w: TaskWriterImpl, e: Entry, keep: boolean): Promise<void>;
  validateDigest(d: string): void;
}

class TaskWriterImpl implements TaskWriter {
  readonly taskId: string;
  readonly peerId: string;
  readonly dataFilePath: string;
  readonly contentLength: number;
  readonly pieceSize: number;
  readonly totalPieces: number;
  readonly resumed: boolean;
  readonly #hooks: WriterHooks;
  readonly #e: Entry;
  readonly #fh: fsp.FileHandle;
  readonly #lock: TaskLock;
  #closed = false;
  #pending = 0;
  #lastPersist = performance.now();
  #persisting: Promise<void> | undefined;
  #dirty = false;
  #bgError: unknown;

  constructor(hooks: WriterHooks, e: Entry, fh: fsp.FileHandle, lock: TaskLock, resumed: boolean) {
    this.#hooks = hooks;
    this.#e = e;
    this.#fh = fh;
    this.#lock = lock;
    this.resumed = resumed;
    this.taskId = e.meta.taskId;
    this.peerId = e.meta.peerId;
    this.dataFilePath = e.meta.dataFilePath;
    this.contentLength = e.meta.contentLength;
    this.pieceSize = e.meta.ext.pieceSize;
    this.totalPieces = e.meta.totalPieces;
  }

  get pieces(): ReadonlyMap<number, PieceRecord> {
    return this.#e.meta.pieces;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StorageError(`writer of task ${this.taskId}/${this.peerId} is closed`, this.dataFilePath);
  }

  async write(data: Uint8Array | readonly Uint8Array[], position: number): Promise<void> {
    this.#assertOpen();
    // An array is written with one writev: the conductor batches socket chunks without copying them.
    const bufs = data instanceof Uint8Array ? [data] : data;
    let total = 0;
    for (const b of bufs) total += b.byteLength;
    if (!Number.isSafeInteger(position) || position < 0 || position + total > this.contentLength) {
      throw new InvalidArgumentError('position', `bytes [${position}, ${position + total}) are outside the blob of ${this.contentLength} bytes`);
    }
    try {
      const { bytesWritten } = bufs.length === 1 ? await this.#fh.write(bufs[0]!, 0, total, position) : await this.#fh.writev(bufs as Uint8Array[], position);
      if (bytesWritten < total) {
        // Short writes are rare on regular files; finish the rest one buffer at a time.
        let off = bytesWritten;
        const rest = Buffer.concat(bufs as Uint8Array[], total).subarray(off);
        let done = 0;
        while (done < rest.byteLength) {
          const r = await this.#fh.write(rest, done, rest.byteLength - done, position + off + done);
          done += r.bytesWritten;
        }
        off += done;
      }
    } catch (e) {
      if (errno(e) === 'ENOSPC' || errno(e) === 'EDQUOT') {
        throw new StorageQuotaError(`no space left writing ${this.dataFilePath}`, { cause: e });
      }
      throw new StorageError(`cannot write ${this.dataFilePath}: ${(e as Error).message}`, this.dataFilePath, { cause: e });
    }
  }

  recordPiece(p: PieceRecord): void {
    this.#assertOpen();
    if (!Number.isSafeInteger(p.num) || p.num < 0 || p.num >= this.totalPieces) throw new InvalidArgumentError('piece.num', `piece ${p.num} is outside 0..${this.totalPieces - 1}`);
    const want = pieceRange(p.num, this.contentLength, this.pieceSize);
    if (p.range?.start !== want.start || p.range?.length !== want.length) {
      throw new InvalidArgumentError('piece.range', `piece ${p.num} must span ${want.start}+${want.length}, got ${p.range?.start}+${p.range?.length}`);
    }
    if (!isPieceDigest(p.digest)) throw new InvalidArgumentError('piece.digest', `expected crc32:<8 hex> or md5:<32 hex>, got ${quote(p.digest)}`);
    this.#e.meta.pieces.set(p.num, { num: p.num, range: { start: want.start, length: want.length }, digest: p.digest, cost: p.cost });
    this.#pending++;
    if (this.#pending >= PERSIST_EVERY_PIECES || performance.now() - this.#lastPersist >= PERSIST_EVERY_MS) this.#schedulePersist();
  }

  #schedulePersist(): void {
    this.#dirty = true;
    if (this.#persisting) return;
    this.#persisting = (async () => {
      while (this.#dirty && !this.#closed) {
        this.#dirty = false;
        this.#pending = 0;
        this.#lastPersist = performance.now();
        try {
          await this.#hooks.persist(this.#e);
        } catch (e) {
          this.#bgError ??= e;
        }
      }
    })().finally(() => {
      this.#persisting = undefined;
    });
  }

  async flush(): Promise<void> {
    this.#assertOpen();
    await this.#drain();
    this.#pending = 0;
    this.#lastPersist = performance.now();
    await this.#hooks.persist(this.#e);
  }

  async #drain(): Promise<void> {
    while (this.#persisting) await this.#persisting;
    if (this.#bgError) {
      const e = this.#bgError;
      this.#bgError = undefined;
      throw e;
    }
  }

  async complete(info: { digest: string }): Promise<TaskEntry> {
    this.#assertOpen();
    this.#hooks.validateDigest(info?.digest);
    if (this.pieces.size !== this.totalPieces) {
      throw new StorageError(`task ${this.taskId}/${this.peerId} is incomplete: ${this.pieces.size} of ${this.totalPieces} pieces recorded`, this.dataFilePath);
    }
    await this.#drain();
    try {
      const st = await this.#fh.stat();
      if (st.size < this.contentLength) throw new StorageError(`data file ${this.dataFilePath} has ${st.size} bytes, expected ${this.contentLength}`, this.dataFilePath);
      if (st.size > this.contentLength) await this.#fh.truncate(this.contentLength);

    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw new StorageError(`cannot finish ${this.dataFilePath}: ${(e as Error).message}`, this.dataFilePath, { cause: e });
    }
    const st = await fsp.stat(this.dataFilePath);
    const entry = await this.#hooks.complete(this.#e, info.digest, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs });
    this.#closed = true;
    await this.#fh.close().catch(() => {});
    await this.#hooks.finish(this, this.#e, true);
    await this.#lock.release();
    return entry;
  }

  async abort(opts: { keepForResume?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      while (this.#persisting) await this.#persisting;
      await this.#fh.close().catch(() => {});
      if (opts.keepForResume) await this.#hooks.persist(this.#e).catch((e: unknown) => log('persist on abort failed: %s', (e as Error).message));
      await this.#hooks.finish(this, this.#e, opts.keepForResume === true);
    } finally {
      await this.#lock.release();
    }
  }
}
