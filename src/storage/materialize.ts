/**
 * Atomic materialisation of an output from a data file.
 *
 * @module
 */
import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import debug from 'debug';
import { StorageError, StorageQuotaError } from '../core/errors.js';
import { assertFits } from './free-space.js';
import type { SignalOptions } from '../core/types.js';
import { errno, throwIfAborted, tmpSuffix, TMP_MARK, unlinkQuiet } from './fs-util.js';
import { sweepOutputTemps } from './leftovers.js';

const log = debug('orasfly:storage');

/** How an output was made. */
export interface MaterializeResult {
  /** `link`: the output is a hard link to the data (same inode); `copy`: an independent byte copy. */
  method: 'link' | 'copy';
  /** Inode of the output. */
  ino: number;
  size: number;
}

/** errnos on which a hard link is replaced by a copy (other filesystem, refused, too many links). */
const COPY_FALLBACK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'EACCES']);

/**
 * Makes `output` a hard link to `source` (copy when linking is impossible) atomically: the link or
 * copy is made under a temp name in the output's directory and renamed over `output`. An existing
 * output stays untouched until that rename, and a failure leaves it as it was (upstream removed the
 * destination first, then linked: a crash in between lost the user's file). Before a copy, temp
 * files that killed copies left in that directory are swept ({@link sweepOutputTemps}).
 *
 * @throws StorageQuotaError (`ERR_ORASFLY_STORAGE_QUOTA`) when a copy cannot fit where the output goes.
 * @throws StorageError (`ERR_ORASFLY_STORAGE`) naming the path that failed; the signal's reason on abort.
 */
export async function materializeFile(
  source: string,
  output: string,
  opts: SignalOptions = {},
): Promise<MaterializeResult> {
  throwIfAborted(opts.signal);
  const dir = path.dirname(output);
  const src = await fsp.stat(source).catch((e: unknown) => {
    throw new StorageError(`cache data ${source} is unreadable: ${(e as Error).message}`, source, { cause: e });
  });
  // Already the same inode (pull 2 to the same path): rename(2) of two links to one inode is a no-op
  // that would leave our temp name behind, so answer directly. lstat: a symbolic link to a link of
  // that inode is still replaced by the file, as any symbolic link at the output is.
  const cur = await fsp.lstat(output).catch(() => undefined);
  if (cur && cur.ino === src.ino && cur.dev === src.dev) return { method: 'link', ino: cur.ino, size: cur.size };
  const tmp = path.join(dir, `${TMP_MARK}${tmpSuffix()}`);
  let method: 'link' | 'copy' = 'link';
  try {
    try {
      // The directory is made only when the link finds it missing: a reuse into an existing
      // directory (the usual case) spends no mkdir on it.
      await fsp.link(source, tmp).catch(async (e: unknown) => {
        if (errno(e) !== 'ENOENT') throw e;
        await makeDirectory(dir);
        await fsp.link(source, tmp);
      });
    } catch (e) {
      if (!COPY_FALLBACK.has(errno(e) ?? '')) throw e;
      log('task data link to file %s error: %s; copying', output, (e as Error).message);
      method = 'copy';
      throwIfAborted(opts.signal);
      // A copy takes seconds, and a pull killed meanwhile leaves a partial one under a temp name:
      // sweep such leftovers of dead pulls first. Only here, so that a reuse by hard link never
      // lists the output directory (a killed link leaves a temp name only in a window of microseconds).
      await sweepOutputTemps(dir, log);
      // Refused up front, like a first pull whose blob cannot fit: not after writing most of it.
      await assertFits(src.size, [dir], `a copy of the cached blob for ${output}`);
      const mode = await newFileMode(dir);
      // FICLONE makes it a reflink where the filesystem can (btrfs, xfs): instant and space-sharing.
      // EXCL: a name planted meanwhile (a symbolic link to someone's file) is refused, not written.
      await fsp.copyFile(source, tmp, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL);
      await setMode(tmp, mode);
    }
    throwIfAborted(opts.signal);
    await fsp.rename(tmp, output);
    // Another pull linked the same data there since the lstat above: rename(2) between two links of
    // one inode does nothing, and would leave the temp name as one more link of the data.
    if (method === 'link') await unlinkQuiet(tmp).catch(() => {});
  } catch (e) {
    await unlinkQuiet(tmp).catch(() => {});
    if (e === opts.signal?.reason && opts.signal?.aborted) throw e;
    if (e instanceof StorageQuotaError) throw e;
    if (errno(e) === 'ENOSPC' || errno(e) === 'EDQUOT')
      throw new StorageQuotaError(`no space left making ${output}; the previous file, if any, is as it was`, {
        cause: e,
      });
    if (e instanceof StorageError) throw e;
    throw new StorageError(`cannot materialise ${output}: ${(e as Error).message}`, output, { cause: e });
  }
  // A link is the source's inode: nothing to ask the disk again.
  if (method === 'link') return { method, ino: src.ino, size: src.size };
  const st = await fsp.stat(output);
  return { method, ino: st.ino, size: st.size };
}

/**
 * The mode a new file gets in `dir` under this process's umask (0644 under 022, 0600 under 077, as
 * dfget's outputs): a copy is a new file of the user's, and copyFile would give it the store's.
 * Learnt by creating a probe file (Node has no race-free way to read the umask).
 */
async function newFileMode(dir: string): Promise<number> {
  const probe = path.join(dir, `${TMP_MARK}${tmpSuffix()}`);
  const fh = await fsp.open(probe, 'wx', 0o666);
  try {
    return (await fh.stat()).mode & 0o777;
  } finally {
    await fh.close();
    await unlinkQuiet(probe).catch(() => {});
  }
}

/**
 * Sets the copy's mode through a handle that refuses a symbolic link. Filesystems that keep no modes
 * (CIFS, many FUSE mounts: where a copy is made because linking failed) refuse it: the copy stays.
 */
async function setMode(file: string, mode: number): Promise<void> {
  const fh = await fsp.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    await fh.chmod(mode);
  } catch (e) {
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(errno(e) ?? '')) throw e;
    log('cannot set mode %s of %s: %s; kept as copied', mode.toString(8), file, (e as Error).message);
  } finally {
    await fh.close();
  }
}

async function makeDirectory(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new StorageError(`cannot create output directory ${dir}: ${(e as Error).message}`, dir, { cause: e });
  }
}
