/**
 * Small filesystem helpers of the task store (not public).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { StorageError } from '../core/errors.js';

/** `code` of a Node system error, if any. */
export function errno(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

export { throwIfAborted } from '../internal/abort.js';

/** A random suffix for temp names (8 hex chars is plenty inside one directory). */
export function tmpSuffix(): string {
  return `${process.pid}.${randomBytes(4).toString('hex')}`;
}

/** Names of temp files we create; reload removes leftovers matching this. */
export const TMP_MARK = '.orasfly-tmp-';

/**
 * Writes `data` to `file` atomically: a temp file in the same directory is written, fsync'ed and
 * renamed over `file`. A reader sees the old content or the new one, never a torn file (the upstream
 * daemon wrote metadata in place without truncation, the source of `unexpected end of JSON input`).
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  opts: { fsync?: boolean; mtimeMs?: number } = {},
): Promise<void> {
  const tmp = path.join(path.dirname(file), `${TMP_MARK}${path.basename(file)}.${tmpSuffix()}`);
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(tmp, 'wx', 0o644);
    await fh.writeFile(data);
    // The mtime carries meaning for metadata (last access, under an injectable clock): set it before the rename.
    if (opts.mtimeMs !== undefined) await fh.utimes(opts.mtimeMs / 1000, opts.mtimeMs / 1000);
    if (opts.fsync !== false) await fh.datasync();
    await fh.close();
    fh = undefined;
    await fsp.rename(tmp, file);
  } catch (e) {
    await fh?.close().catch(() => {});
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw new StorageError(`cannot write ${file}: ${(e as Error).message}`, file, { cause: e });
  }
}

/** Removes a file or link; a missing one is fine. */
export async function unlinkQuiet(p: string): Promise<void> {
  try {
    await fsp.unlink(p);
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e;
  }
}

/** Removes a directory if it is empty; any failure (not empty, missing) is ignored. */
export async function rmdirQuiet(p: string): Promise<void> {
  await fsp.rmdir(p).catch(() => {});
}

export { abortableDelay as delay } from '../internal/abort.js';
