/**
 * `io.d7y.storage.v2.simple`: the data file is `<dataPath>/<taskID>/<peerID>/data` itself.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import { StorageError } from '../../core/errors.js';
import type { DataLocation, StorageStrategy, StoreLink, StrategyContext } from './storage-strategy.js';

/** Dragonfly's strategy name for {@link SimpleStrategy}. */
export const SIMPLE_STRATEGY = 'io.d7y.storage.v2.simple';

/** Creates the (empty) data file exclusively; the store directory is private, so it cannot exist. */
export async function createEmptyFile(file: string): Promise<void> {
  try {
    const fh = await fsp.open(file, 'wx', 0o644);
    await fh.close();
  } catch (e) {
    throw new StorageError(`cannot create data file ${file}: ${(e as Error).message}`, file, { cause: e });
  }
}

/**
 * Data under `dataPath`; outputs are hard links to it, or byte copies when the output is on
 * another filesystem (EXDEV) or linking is refused (EPERM).
 */
export class SimpleStrategy implements StorageStrategy {
  readonly name = SIMPLE_STRATEGY;

  async locate(ctx: StrategyContext): Promise<DataLocation> {
    return { dataFilePath: ctx.storeDataPath, storeStrategy: SIMPLE_STRATEGY };
  }

  async create(ctx: StrategyContext, loc: DataLocation): Promise<StoreLink> {
    await createEmptyFile(loc.dataFilePath);
    return loc.dataFilePath === ctx.storeDataPath ? 'self' : 'hardlink';
  }
}
