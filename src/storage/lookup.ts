/**
 * Completed entries as readers see them: found by task id or blob digest, validated before they
 * are served, pinned while a reader uses them, dropped when they turned out invalid, and removed
 * under their task lock once nobody uses them. The store facade and the cache commands go through
 * it, so these rules are written once.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import { StorageError, StorageQuotaError } from '../core/errors.js';
import { errno } from './fs-util.js';
import type { SignalOptions } from '../core/types.js';
import { materializeFile, type MaterializeResult } from './materialize.js';
import type { ReaderClaims } from './reader-claims.js';
import type { Entry, TaskEntry } from './entry.js';
import { readPeer, readTask, removeEntryFiles, type EntryFilesContext } from './entry-files.js';
import type { DropEvent } from './manager-types.js';
import type { ResolvedStorageOptions } from './options.js';
import { isPeerIdName, isTaskIdName } from './store-layout.js';
import { acquireTaskLock } from './task-lock.js';
import { validDataPath, verifiedThisBoot } from './validate.js';

/** A reader's access refreshes an entry's last access only when it is older than this (ms). */
const TOUCH_AGAIN_AFTER_MS = 1000;

/** What the lookup needs of the store. */
export interface LookupContext {
  files: EntryFilesContext;
  /** This process's reader claims (the same store's). */
  claims: ReaderClaims;
  options: Pick<ResolvedStorageOptions, 'lockStaleTime' | 'now'>;
  /** An invalid entry was dropped instead of served. */
  onDrop(event: DropEvent): void;
}

/**
 * A completed entry went away before a reader could use it (another process's GC or clean removed
 * it): looking it up again either finds another entry or downloads. Code `ERR_ORASFLY_STORAGE`.
 */
export class EntryGoneError extends StorageError {}

/** A pinned entry: GC of this process leaves its files alone until `release`. */
export interface EntryPin {
  readonly entry: Entry;
  /** Lets go; drops the entry when the reader found it invalid (`dropReason`). */
  release(dropReason?: string): Promise<void>;
}

/** Finds, pins, drops and removes completed entries. */
export class EntryLookup {
  readonly #ctx: LookupContext;

  constructor(ctx: LookupContext) {
    this.#ctx = ctx;
  }

  /**
   * A completed, valid, not reclaim-marked entry by task id or blob digest (task id first, newest
   * completion first). Keys must be validated by the caller.
   */
  async find(
    key: { taskId?: string | undefined; digest?: string | undefined },
    signal?: AbortSignal,
  ): Promise<TaskEntry | undefined> {
    const { files } = this.#ctx;
    const { index } = files;
    if (key.taskId !== undefined) {
      const { entries } = await readTask(files, key.taskId);
      const hit = await this.#firstValid(entries, signal);
      if (hit) return hit;
    }
    if (key.digest !== undefined) {
      const ref = await index.read(key.digest);
      if (ref) {
        const r = await readPeer(files, ref.taskId, ref.peerId);
        if (r.kind === 'entry' && r.entry.meta.ext.digest === key.digest) return this.#firstValid([r.entry], signal);
      }
    }
    return undefined;
  }

  async #firstValid(list: readonly Entry[], signal?: AbortSignal): Promise<TaskEntry | undefined> {
    const cands = list
      .filter((e) => e.meta.done && !e.marked)
      .sort((a, b) => (b.meta.ext.completedAt ?? 0) - (a.meta.ext.completedAt ?? 0));
    for (const e of cands) {
      const src = await validDataPath(e);
      // A reboot's re-hash of a big entry can take a while: it honours the caller's signal.
      if (src && (await verifiedThisBoot(e, src, this.#ctx.files.log, signal))) {
        await this.touch(e);
        return e.snapshot();
      }
      await this.drop(
        e,
        src ? 'data does not match its digest after a reboot' : 'data changed, truncated or missing since completion',
      );
    }
    return undefined;
  }

  /** The entry behind a snapshot: read from disk, if it is still completed and not marked. */
  async entryOf(entry: TaskEntry): Promise<Entry | undefined> {
    if (!isTaskIdName(entry?.taskId) || !isPeerIdName(entry?.peerId)) return undefined;
    const r = await readPeer(this.#ctx.files, entry.taskId, entry.peerId);
    return r.kind === 'entry' && r.entry.meta.done && !r.entry.marked ? r.entry : undefined;
  }

  /**
   * Holds an entry against GC of this process; `release` lets go, dropping the entry when the
   * reader found it invalid, or removing it when it was reclaimed meanwhile and this was its last
   * reader.
   *
   * @throws StorageError when the entry is no longer in the store.
   */
  async pin(entry: TaskEntry): Promise<EntryPin> {
    // The claim first, then the check that the entry is still there: a remover in another process
    // either sees the claim, or has removed the entry before the check (which then fails).
    const claim =
      isTaskIdName(entry?.taskId) && isPeerIdName(entry?.peerId)
        ? await this.#ctx.claims.claim(entry.taskId, entry.peerId).catch((e: unknown) => {
            throw claimFailed(e, entry);
          })
        : undefined;
    const found = await this.entryOf(entry).catch(async (e: unknown) => {
      await claim?.release();
      throw e;
    });
    if (!found) {
      await claim?.release();
      throw new EntryGoneError(`task ${entry.taskId}/${entry.peerId} is no longer in the store`, entry.dataFilePath);
    }
    const { table } = this.#ctx.files;
    const e = table.adopt(found);
    e.pins++;
    let released = false;
    return {
      entry: e,
      release: async (dropReason) => {
        if (released) return;
        released = true;
        e.pins--;
        table.settle(e);
        await claim?.release();
        if (dropReason) await this.drop(e, dropReason);
        else if (e.marked && !e.busy) await this.removeLocked(e, 'reclaimed after last reader');
      },
    };
  }

  /**
   * Makes `output` (absolute) from a completed entry under a pin: the data re-validated first (an
   * invalid entry is dropped), then linked or copied (`materialize.ts`).
   *
   * @throws EntryGoneError when the entry is gone or its data changed: looking up again may find another.
   */
  async materialize(entry: TaskEntry, output: string, opts: SignalOptions = {}): Promise<MaterializeResult> {
    const { entry: e, release } = await this.pin(entry);
    let invalid = false;
    try {
      const src = await validDataPath(e);
      if (!src) {
        invalid = true;
        throw new EntryGoneError(
          `cache data of task ${e.key} changed since completion; not reused`,
          e.meta.dataFilePath,
        );
      }
      try {
        const r = await materializeFile(src, output, opts);
        if (r.method === 'link') e.nlink++;
        // Found a moment ago, the lookup touched it then: a second write of the same time is skipped.
        if (this.#ctx.options.now() - e.lastAccess >= TOUCH_AGAIN_AFTER_MS) await this.touch(e);
        return r;
      } catch (err) {
        // The data went from under the claim (a remover of a store version without claims, a hand's rm).
        if (!opts.signal?.aborted && !(await fsp.stat(src).catch(() => undefined))) {
          invalid = true;
          throw new EntryGoneError(`cache data of task ${e.key} disappeared; not reused`, src, { cause: err });
        }
        throw err;
      }
    } finally {
      await release(invalid ? 'data changed, truncated or missing since completion' : undefined);
    }
  }

  /** Marks an invalid entry (no longer offered) and removes it unless someone uses it. */
  async drop(e: Entry, reason: string): Promise<void> {
    this.#ctx.files.log('drop %s: %s', e.key, reason);
    e.marked = true;
    if (!e.busy) await this.removeLocked(e, reason);
    this.#ctx.onDrop({ taskId: e.taskId, peerId: e.peerId, reason });
  }

  /** Removes an entry under its task lock, if nobody holds that now (never one in use). */
  async removeLocked(e: Entry, reason: string): Promise<boolean> {
    const lock = await acquireTaskLock(this.#ctx.files.layout.lockPath(e.taskId), {
      tryOnly: true,
      staleMs: this.#ctx.options.lockStaleTime,
    }).catch(() => undefined);
    if (!lock) return false;
    try {
      return e.busy ? false : await removeEntryFiles(this.#ctx.files, e, reason);
    } finally {
      await lock.release();
    }
  }

  /** Records a use: the metadata file's mtime (cheap, no rewrite, visible to other processes). */
  async touch(e: Entry): Promise<void> {
    const now = this.#ctx.options.now();
    e.touch(now);
    await fsp.utimes(e.metaPath, now / 1000, now / 1000).catch(() => {});
  }
}

/** A reader claim that could not be written (a full disk, a read-only store): the store's error. */
function claimFailed(e: unknown, entry: TaskEntry): StorageError | StorageQuotaError {
  const why = `cannot claim task ${entry.taskId}/${entry.peerId} for reading: ${(e as Error).message}`;
  const code = errno(e);
  return code === 'ENOSPC' || code === 'EDQUOT'
    ? new StorageQuotaError(why, { cause: e })
    : new StorageError(why, entry.dataFilePath, { cause: e });
}
