/**
 * Writes one task (containerd's content writer): positional writes into the data file, verified
 * pieces recorded and persisted in the background (`done:false`, for resume after a crash), and
 * `complete`/`abort`. Holds the task lock until it ends.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import debug from 'debug';
import { ClosedError, InvalidArgumentError, LockError, StorageError, StorageQuotaError } from '../core/errors.js';
import { quote } from '../core/describe.js';
import type { Entry, TaskEntry } from './entry.js';
import { errno, TMP_MARK, tmpSuffix, unlinkQuiet } from './fs-util.js';
import type { Fingerprint, PieceRecord } from './metadata.js';
import { pieceAt } from '../core/piece-plan.js';
import { isPieceDigest, pieceSign } from './piece-digest.js';
import type { DigestIndex } from './digest-index.js';
import { writeMetadata } from './metadata.js';
import { bootId, validDataPath } from './validate.js';
import type { TaskLock } from './task-lock.js';
import { monotonicMs } from '../internal/clock.js';

const log = debug('orasfly:storage');
const PERSIST_EVERY_MS = 250;
const PERSIST_EVERY_PIECES = 16;

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
   * `false` when the data file lives outside the store, beside the output (the `advance` strategy):
   * a pull that stops keeps no partial data there. @defaultValue true
   */
  readonly dataInStore?: boolean;
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
  /**
   * Takes the file at `from` (on the data file's filesystem, e.g. a Dragonfly daemon's task file
   * linked into the store) as the data file, by rename, instead of copying its bytes. Only while no
   * piece is recorded and only if `from` is still inode `ino` (the file the caller verified) of
   * `contentLength` bytes. The data file is then opened read-only: nothing of orasfly's ever writes
   * into a file it may share with another program. Resolves `false`, changing nothing, when it
   * cannot be done (another filesystem, no permission, pieces already recorded): copy instead.
   */
  adoptDataFile?(from: string, ino: number): Promise<boolean>;
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
   * file). `keepForResume`: persists progress so a later `beginTask` resumes from the verified pieces;
   * GC collects the entry once it is untouched for `taskExpireTime`.
   */
  abort(opts?: { keepForResume?: boolean }): Promise<void>;
}

/** What a writer needs from the store: a narrow interface instead of the store itself. */
export interface EntryStore {
  /** Persists progress (`done:false`) atomically. */
  persist(e: Entry): Promise<void>;
  /** Marks the entry complete: metadata `done:true` with the fingerprint, digest index, snapshot. */
  commit(e: Entry, digest: string, fp: Fingerprint): Promise<TaskEntry>;
  /** The writer is done with the entry: keep it (completed, or for resume) or delete it. */
  release(w: TaskWriterImpl, e: Entry, keep: boolean): Promise<void>;
  /** @throws InvalidArgumentError for a malformed digest. */
  validateDigest(d: string): void;
}

/** The store's {@link TaskWriter}. */
export class TaskWriterImpl implements TaskWriter {
  readonly taskId: string;
  readonly peerId: string;
  readonly dataFilePath: string;
  readonly contentLength: number;
  readonly pieceSize: number;
  readonly totalPieces: number;
  readonly resumed: boolean;
  readonly dataInStore: boolean;
  readonly #store: EntryStore;
  readonly #e: Entry;
  #fh: fsp.FileHandle;
  readonly #lock: TaskLock;
  #closed = false;
  #writeQueue: Promise<void> = Promise.resolve();
  #pending = 0;
  #lastPersist = monotonicMs();
  #persisting: Promise<void> | undefined;
  #dirty = false;
  #bgError: unknown;

  constructor(store: EntryStore, e: Entry, fh: fsp.FileHandle, lock: TaskLock, resumed: boolean) {
    this.#store = store;
    this.#e = e;
    this.#fh = fh;
    this.#lock = lock;
    this.resumed = resumed;
    this.taskId = e.taskId;
    this.peerId = e.peerId;
    this.dataFilePath = e.meta.dataFilePath;
    this.contentLength = e.meta.contentLength;
    this.pieceSize = e.meta.ext.pieceSize;
    this.totalPieces = e.meta.totalPieces;
    this.dataInStore = e.meta.dataFilePath === e.storeDataPath;
  }

  get pieces(): ReadonlyMap<number, PieceRecord> {
    return this.#e.meta.pieces;
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError('TaskWriter', `task ${this.taskId}/${this.peerId}`);
  }

  async write(data: Uint8Array | readonly Uint8Array[], position: number): Promise<void> {
    this.#assertOpen();
    // An array is written with one writev: the conductor batches socket chunks without copying them.
    const bufs = data instanceof Uint8Array ? [data] : data;
    let total = 0;
    for (const b of bufs) total += b.byteLength;
    if (!Number.isSafeInteger(position) || position < 0 || position + total > this.contentLength) {
      throw new InvalidArgumentError(
        'position',
        `bytes [${position}, ${position + total}) are outside the blob of ${this.contentLength} bytes`,
      );
    }
    // One write at a time per file: concurrent positional writes from the thread pool contend for
    // the inode lock (the kernel spins on it: 6 % of a 4-connection pull's samples in `perf`).
    const run = this.#writeQueue.then(() => this.#writeNow(bufs, total, position));
    this.#writeQueue = run.catch(() => {});
    return run;
  }

  async #writeNow(bufs: readonly Uint8Array[], total: number, position: number): Promise<void> {
    try {
      const { bytesWritten } =
        bufs.length === 1
          ? await this.#fh.write(bufs[0]!, 0, total, position)
          : await this.#fh.writev(bufs as Uint8Array[], position);
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
      throw new StorageError(`cannot write ${this.dataFilePath}: ${(e as Error).message}`, this.dataFilePath, {
        cause: e,
      });
    }
  }

  recordPiece(p: PieceRecord): void {
    this.#assertOpen();
    if (!Number.isSafeInteger(p.num) || p.num < 0 || p.num >= this.totalPieces)
      throw new InvalidArgumentError('piece.num', `piece ${p.num} is outside 0..${this.totalPieces - 1}`);
    const want = pieceAt(
      { contentLength: this.contentLength, pieceSize: this.pieceSize, totalPieces: this.totalPieces },
      p.num,
    ).range;
    if (p.range?.start !== want.start || p.range?.length !== want.length) {
      throw new InvalidArgumentError(
        'piece.range',
        `piece ${p.num} must span ${want.start}+${want.length}, got ${p.range?.start}+${p.range?.length}`,
      );
    }
    if (!isPieceDigest(p.digest))
      throw new InvalidArgumentError('piece.digest', `expected crc32:<8 hex> or md5:<32 hex>, got ${quote(p.digest)}`);
    this.#e.meta.pieces.set(p.num, {
      num: p.num,
      range: { start: want.start, length: want.length },
      digest: p.digest,
      cost: p.cost,
    });
    this.#pending++;
    // The last piece: `complete` (or `abort` keeping it for resume) writes the metadata next, so a
    // progress write now would only be written over (a daemon's file taken whole records every piece at once).
    if (this.#e.meta.pieces.size === this.totalPieces) return;
    if (this.#pending >= PERSIST_EVERY_PIECES || monotonicMs() - this.#lastPersist >= PERSIST_EVERY_MS)
      this.#schedulePersist();
  }

  #schedulePersist(): void {
    this.#dirty = true;
    if (this.#persisting) return;
    this.#persisting = (async () => {
      while (this.#dirty && !this.#closed) {
        this.#dirty = false;
        this.#pending = 0;
        this.#lastPersist = monotonicMs();
        try {
          await this.#persistIfOurs();
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
    this.#lastPersist = monotonicMs();
    await this.#persistIfOurs();
  }

  async #drain(): Promise<void> {
    while (this.#persisting) await this.#persisting;
    if (this.#bgError) {
      const e = this.#bgError;
      this.#bgError = undefined;
      throw e;
    }
  }

  async adoptDataFile(from: string, ino: number): Promise<boolean> {
    this.#assertOpen();
    if (this.pieces.size > 0) return false;
    await this.#drain();
    let fh: fsp.FileHandle | undefined;
    let storeTmp: string | undefined;
    try {
      fh = await fsp.open(from, 'r');
      const st = await fh.stat();
      if (!st.isFile() || st.ino !== ino || st.size !== this.contentLength || this.pieces.size > 0) {
        await fh.close();
        return false;
      }
      // The advance strategy's `data` is a hard link to the data file beside the output: it must follow
      // the new inode, or the store would keep the old, empty one (and count the output's links
      // wrongly). Its new link is made first, so that a failure leaves everything as it was.
      storeTmp =
        this.#e.storeLink === 'hardlink'
          ? path.join(path.dirname(this.#e.storeDataPath), `${TMP_MARK}data-${tmpSuffix()}`)
          : undefined;
      if (storeTmp) await fsp.link(from, storeTmp);
      await fsp.rename(from, this.dataFilePath);
    } catch (e) {
      await fh?.close().catch(() => {});
      if (storeTmp) await unlinkQuiet(storeTmp).catch(() => {});
      log('task %s: cannot take %s as the data file (%s); copying', this.taskId, from, (e as Error).message);
      return false;
    }
    // Taken: from here a failure is the store's error, not a reason to copy into the old inode.
    if (storeTmp)
      await fsp.rename(storeTmp, this.#e.storeDataPath).catch(async (e: unknown) => {
        await fh.close().catch(() => {});
        throw new StorageError(
          `cannot point ${this.#e.storeDataPath} at the file taken whole: ${(e as Error).message}`,
          this.#e.storeDataPath,
          { cause: e },
        );
      });
    const old = this.#fh;
    this.#fh = fh;
    await old.close().catch(() => {});
    return true;
  }

  /**
   * Persists progress only while the task lock is still ours: a holder stopped (Ctrl-Z) for longer
   * than the stale time may have been taken over, and the new holder owns the metadata now.
   */
  async #persistIfOurs(): Promise<void> {
    if (!(await this.#lock.stillHeld())) {
      throw new LockError(
        `the task lock of ${this.taskId} was taken over by another process (was this one stopped for longer than lockStaleTime?); this writer stops`,
      );
    }
    await this.#store.persist(this.#e);
  }

  async complete(info: { digest: string }): Promise<TaskEntry> {
    this.#assertOpen();
    this.#store.validateDigest(info?.digest);
    if (this.pieces.size !== this.totalPieces) {
      throw new StorageError(
        `task ${this.taskId}/${this.peerId} is incomplete: ${this.pieces.size} of ${this.totalPieces} pieces recorded`,
        this.dataFilePath,
      );
    }
    await this.#drain();
    if (!(await this.#lock.stillHeld())) {
      throw new LockError(
        `the task lock of ${this.taskId} was taken over by another process (was this one stopped for longer than lockStaleTime?); not completing`,
      );
    }
    try {
      const st = await this.#fh.stat();
      if (st.size < this.contentLength)
        throw new StorageError(
          `data file ${this.dataFilePath} has ${st.size} bytes, expected ${this.contentLength}`,
          this.dataFilePath,
        );
      if (st.size > this.contentLength) await this.#fh.truncate(this.contentLength);
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw new StorageError(`cannot finish ${this.dataFilePath}: ${(e as Error).message}`, this.dataFilePath, {
        cause: e,
      });
    }
    const st = await fsp.stat(this.dataFilePath);
    const entry = await this.#store.commit(this.#e, info.digest, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs });
    this.#closed = true;
    await this.#fh.close().catch(() => {});
    await this.#store.release(this, this.#e, true);
    await this.#lock.release();
    return entry;
  }

  async abort(opts: { keepForResume?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      while (this.#persisting) await this.#persisting;
      await this.#fh.close().catch(() => {});
      if (opts.keepForResume)
        await this.#persistIfOurs().catch((e: unknown) => log('persist on abort failed: %s', (e as Error).message));
      // A writer stopped (Ctrl-Z) for longer than lockStaleTime may have been taken over: the files
      // are the new holder's then, and deleting them would break its download.
      const ours = opts.keepForResume === true || (await this.#lock.stillHeld().catch(() => false));
      if (!ours) log('task %s: the lock was taken over; its files are left to the new holder', this.taskId);
      await this.#store.release(this, this.#e, opts.keepForResume === true || !ours);
    } finally {
      await this.#lock.release();
    }
  }
}

/** What committing an entry touches besides its own files. */
export interface CommitContext {
  /** The store's digest index, written last. */
  readonly index: DigestIndex;
  /** The completion time (ms). */
  readonly now: number;
  readonly log: (format: string, ...args: unknown[]) => void;
}

/**
 * Completes an entry: its metadata says done, with the blob digest, the piece signature, the data
 * file's fingerprint and this boot's id (so this boot trusts it without a re-hash), written
 * atomically; then the digest index points at it. Until the metadata is written nothing changes: a
 * failed write leaves the entry in progress.
 */
export async function commitEntry(e: Entry, digest: string, fp: Fingerprint, store: CommitContext): Promise<TaskEntry> {
  const { now } = store;
  const m = e.meta;
  m.done = true;
  m.pieceMd5Sign = pieceSign([...m.pieces.values()].sort((a, b) => a.num - b.num).map((p) => p.digest));
  m.ext.digest = digest;
  m.ext.completedAt = now;
  m.ext.fingerprint = fp;
  m.ext.bootId = bootId();
  e.touch(now);
  try {
    await writeMetadata(e.metaPath, m);
  } catch (err) {
    m.done = false;
    throw err;
  }
  e.nlink = 0;
  // Index last: it points at metadata that is already complete. Best effort: the task directory
  // still finds the entry if this write fails.
  await store.index
    .write(digest, { taskId: m.taskId, peerId: m.peerId })
    .catch((err: unknown) => store.log('index write failed: %s', (err as Error).message));
  await validDataPath(e);
  store.log('task %s completed (%d bytes)', e.key, m.contentLength);
  return e.snapshot();
}
