/**
 * `io.d7y.storage.v2.advance`: the data file is born next to the output as the hidden file
 * `.<name>.dfget.cache.<peerID>`, so the first output is always a hard link (never a copy), and the
 * store's `data` is a hard link to it (a symlink when `dataPath` is on another filesystem).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import debug from 'debug';
import { StorageError } from '../../core/errors.js';
import { errno, unlinkQuiet } from '../fs-util.js';
import { createEmptyFile, SIMPLE_STRATEGY } from './simple.js';
import type { DataLocation, StorageStrategy, StoreLink, StrategyContext } from './storage-strategy.js';

const log = debug('orasfly:storage');

/** Dragonfly's strategy name for {@link AdvanceStrategy}. */
export const ADVANCE_STRATEGY = 'io.d7y.storage.v2.advance';

/** Longest file name Linux filesystems accept (NAME_MAX), in bytes. */
export const NAME_MAX = 255;

/** Marker every hidden data file name carries; deletion of a data file outside `dataPath` requires it. */
export const HIDDEN_MARK = '.dfget.cache';

/**
 * The hidden data file name for an output: `.<name>.dfget.cache.<peerID>` as Dragonfly names it.
 * When that exceeds NAME_MAX (long output names), a shorter name is derived from
 * a hash of the output name instead of failing registration the way upstream does.
 */
export function hiddenDataName(outputName: string, peerId: string): string {
  const full = `.${outputName}${HIDDEN_MARK}.${peerId}`;
  if (Buffer.byteLength(full) <= NAME_MAX) return full;
  const h = createHash('sha256').update(outputName).digest('hex').slice(0, 16);
  const short = `.${h}${HIDDEN_MARK}.${peerId}`;
  if (Buffer.byteLength(short) <= NAME_MAX) return short;
  return `.${createHash('sha256').update(`${outputName}\0${peerId}`).digest('hex')}${HIDDEN_MARK}`;
}

/** Advance strategy; without an output it behaves exactly like simple (as upstream). */
export class AdvanceStrategy implements StorageStrategy {
  readonly name = ADVANCE_STRATEGY;

  async locate(ctx: StrategyContext): Promise<DataLocation> {
    if (!ctx.output) return { dataFilePath: ctx.storeDataPath, storeStrategy: SIMPLE_STRATEGY };
    const dir = path.dirname(ctx.output);
    try {
      await fsp.mkdir(dir, { recursive: true });
    } catch (e) {
      throw new StorageError(`cannot create output directory ${dir}: ${(e as Error).message}`, dir, { cause: e });
    }
    return {
      dataFilePath: path.join(dir, hiddenDataName(path.basename(ctx.output), ctx.peerId)),
      storeStrategy: ADVANCE_STRATEGY,
    };
  }

  async create(ctx: StrategyContext, loc: DataLocation): Promise<StoreLink> {
    await createEmptyFile(loc.dataFilePath);
    if (loc.dataFilePath === ctx.storeDataPath) return 'self';
    // "Same device" compares st_dev of the output directory with dataPath, as upstream does.
    const [a, b] = await Promise.all([fsp.stat(path.dirname(loc.dataFilePath)), fsp.stat(ctx.dataPath)]);
    if (a.dev === b.dev) {
      try {
        await fsp.link(loc.dataFilePath, ctx.storeDataPath);
        return 'hardlink';
      } catch (e) {
        log('hard link failed for same device: %s, fallback to symbol link', (e as Error).message);
        if (errno(e) === 'EEXIST') await unlinkQuiet(ctx.storeDataPath);
      }
    }
    try {
      await fsp.symlink(loc.dataFilePath, ctx.storeDataPath);
      return 'symlink';
    } catch (e) {
      await unlinkQuiet(loc.dataFilePath).catch(() => {});
      throw new StorageError(
        `cannot link ${ctx.storeDataPath} to ${loc.dataFilePath}: ${(e as Error).message}`,
        ctx.storeDataPath,
        { cause: e },
      );
    }
  }
}
