/**
 * The storage strategy interface: where a task's data file is born and how the store's own
 * `<dataPath>/<taskID>/<peerID>/data` entry relates to it. Materialising outputs, validation,
 * GC and deletion are the same for every strategy and live in the manager.
 *
 * @module
 */
import type { SignalOptions } from '../../core/types.js';

/** Everything a strategy needs to know about a new task. */
export interface StrategyContext {
  /** Absolute store root. */
  readonly dataPath: string;
  readonly taskId: string;
  readonly peerId: string;
  /** `<dataPath>/<taskID>/<peerID>` (already created). */
  readonly peerDir: string;
  /** `<peerDir>/data`: the store's entry for the data. */
  readonly storeDataPath: string;
  /** The requested output path, absolute, if the caller knows it. */
  readonly output?: string | undefined;
}

/** Where a strategy decided to put the data file. */
export interface DataLocation {
  /** The real data file (pieces are written here). Recorded as metadata `dataFilePath`. */
  readonly dataFilePath: string;
  /** The strategy name recorded in metadata `storeStrategy` (a fallback may record another one). */
  readonly storeStrategy: string;
}

/**
 * How the store's `data` entry refers to the data file: `self` (it *is* the data file), `hardlink`
 * (another name of the same inode) or `symlink`. Used to count how many of the inode's links the
 * store owns, which tells GC whether deleting the entry frees any space.
 */
export type StoreLink = 'self' | 'hardlink' | 'symlink';

/**
 * A storage strategy. orasfly ships `SimpleStrategy` (`io.d7y.storage.v2.simple`) and
 * `AdvanceStrategy` (`io.d7y.storage.v2.advance`); a host application can pass its own object
 * as `storage.strategy`.
 *
 * @example
 * ```ts
 * import os from 'node:os';
 * import path from 'node:path';
 * import { StorageManager, SimpleStrategy, type DataLocation, type StorageStrategy, type StoreLink, type StrategyContext } from 'orasfly';
 *
 * // Logs where each task's data is born, and otherwise behaves as the simple strategy. The context
 * // (store root, task and peer ids, the entry's path, the requested output) comes from the manager.
 * class LoggingStrategy implements StorageStrategy {
 *   readonly name = 'logging';
 *   readonly #inner = new SimpleStrategy();
 *   async locate(ctx: StrategyContext): Promise<DataLocation> {
 *     const loc = await this.#inner.locate(ctx);
 *     console.log(`task ${ctx.taskId.slice(0, 12)} → ${loc.dataFilePath}`);
 *     return loc;
 *   }
 *   create(ctx: StrategyContext, loc: DataLocation): Promise<StoreLink> {
 *     return this.#inner.create(ctx, loc);
 *   }
 * }
 *
 * const store = await StorageManager.open({ dataPath: path.join(os.tmpdir(), 'orasfly-store'), strategy: new LoggingStrategy() });
 * await store.close();
 * ```
 *
 * Contract: `locate` only decides (it may stat and create the output's parent
 * directory); the manager then persists metadata naming the location *before* calling
 * `create`, so a crash never leaves a data file no metadata points to.
 */
export interface StorageStrategy {
  /** Name for logs and errors. */
  readonly name: string;
  /** Decides where the data file of a new task is born. */
  locate(ctx: StrategyContext, opts?: SignalOptions): Promise<DataLocation>;
  /**
   * Creates the empty data file at `loc.dataFilePath` and the store entry `ctx.storeDataPath`
   * (unless they are the same path). Must not truncate an existing file it did not create.
   */
  create(ctx: StrategyContext, loc: DataLocation, opts?: SignalOptions): Promise<StoreLink>;
}
