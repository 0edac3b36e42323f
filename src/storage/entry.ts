/**
 * One entry of the store (`<dataPath>/<taskID>/<peerID>`) as this process sees it: its metadata,
 * its paths, and the in-process state other processes cannot see (reader pins, an open writer, a
 * reclaim mark). State changes go through methods, so what may change an entry is listed here.
 *
 * @module
 */
import path from 'node:path';
import type { StorageStrategyName } from './options.js';
import type { TaskMetadata } from './metadata.js';
import type { StoreLink } from './strategies/storage-strategy.js';

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

/** An entry of the store. Internal to `src/storage`. */
export class Entry {
  meta: TaskMetadata;
  readonly peerDir: string;
  readonly metaPath: string;
  readonly storeDataPath: string;
  storeLink: StoreLink;
  /** Last access, ms (metadata `lastAccess`, or the metadata file's mtime when newer). */
  lastAccess: number;
  /** No longer offered for reuse; its files go when the last reader leaves. */
  marked = false;
  /** Readers in this process (materialize, `pin`). */
  pins = 0;
  /** A writer of this process has it open. */
  writing = false;
  /** Link count of the data inode, as last seen. */
  nlink = 1;
  /** Temp files of ours were seen in its directory when it was read (a killed writer's leftovers). */
  hasTempFiles = false;

  constructor(meta: TaskMetadata, peerDir: string, storeLink: StoreLink, lastAccess: number) {
    this.meta = meta;
    this.peerDir = peerDir;
    this.metaPath = path.join(peerDir, 'metadata');
    this.storeDataPath = path.join(peerDir, 'data');
    this.storeLink = storeLink;
    this.lastAccess = lastAccess;
  }

  get taskId(): string {
    return this.meta.taskId;
  }

  get peerId(): string {
    return this.meta.peerId;
  }

  /** `<taskId>/<peerId>`. */
  get key(): string {
    return `${this.meta.taskId}/${this.meta.peerId}`;
  }

  /** In use by this process: being written or read. */
  get busy(): boolean {
    return this.writing || this.pins > 0;
  }

  /** Links of the data inode that belong to the store itself (the `data` hard link of advance adds one). */
  get storeLinks(): number {
    return this.storeLink === 'hardlink' ? 2 : 1;
  }

  /** Whether deleting the entry frees its bytes (no output shares the inode). */
  get exclusive(): boolean {
    return !this.meta.done || this.nlink <= this.storeLinks;
  }

  /** Records an access at `now`. */
  touch(now: number): void {
    this.lastAccess = Math.max(this.lastAccess, now);
    this.meta.ext.lastAccess = this.lastAccess;
  }

  /** The caller-facing snapshot. */
  snapshot(): TaskEntry {
    const m = this.meta;
    return Object.freeze({
      taskId: m.taskId,
      peerId: m.peerId,
      digest: m.ext.digest,
      contentLength: m.contentLength,
      totalPieces: m.totalPieces,
      dataFilePath: m.dataFilePath,
      storeStrategy: m.storeStrategy,
      pieceMd5Sign: m.pieceMd5Sign,
      lastAccess: this.lastAccess,
      completedAt: m.ext.completedAt ?? 0,
    });
  }
}

/**
 * Entries this process is using (open writers, pinned readers, reclaim marks), so that every caller
 * sees the same state. Entries leave the table when they are no longer in use: its size follows what
 * this process does, never the size of the store.
 */
export class EntryTable {
  readonly #byKey = new Map<string, Entry>();

  get(taskId: string, peerId: string): Entry | undefined {
    return this.#byKey.get(`${taskId}/${peerId}`);
  }

  /** The table's instance for `e`'s key, adding `e` if there is none. */
  adopt(e: Entry): Entry {
    const cur = this.#byKey.get(e.key);
    if (cur) return cur;
    this.#byKey.set(e.key, e);
    return e;
  }

  /** Forgets `e` unless it is still in use. */
  settle(e: Entry): void {
    if (!e.busy && this.#byKey.get(e.key) === e) this.#byKey.delete(e.key);
  }

  /** Forgets `e` unconditionally (its files are gone). */
  delete(e: Entry): void {
    if (this.#byKey.get(e.key) === e) this.#byKey.delete(e.key);
  }

  /** Entries of this process being written. */
  writing(): Entry[] {
    return [...this.#byKey.values()].filter((e) => e.writing);
  }

  get size(): number {
    return this.#byKey.size;
  }
}
