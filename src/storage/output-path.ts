/**
 * Which output paths orasfly accepts. An output is always replaced atomically (a hard link or a
 * copy under a temp name, then rename), so only a regular file — or nothing yet — may stand there:
 * renaming over `/dev/null` or a FIFO would replace the device, not write into it. An output inside
 * the store would be an entry's own data file under another name.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, StorageError } from '../core/errors.js';
import { errno } from './fs-util.js';

function kindOf(st: Stats): string {
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

/** The real path of `p`'s nearest existing ancestor, joined with the part that does not exist yet. */
async function realPathLoose(p: string): Promise<string> {
  const rest: string[] = [];
  for (let d = path.resolve(p); ; d = path.dirname(d)) {
    try {
      return path.join(await fsp.realpath(d), ...rest.reverse());
    } catch {
      if (path.dirname(d) === d) return path.resolve(p);
      rest.push(path.basename(d));
    }
  }
}

/**
 * Checks that `output` may be (re)placed: absent, a regular file, or a symbolic link (which is
 * replaced by the file; its target is never written). With `dataPath`, the output must not lie
 * inside the store.
 *
 * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`, field `output`) saying why.
 * @throws StorageError when the path cannot be inspected.
 */
export async function assertOutputPath(output: string, dataPath?: string): Promise<void> {
  let st: Stats | undefined;
  try {
    st = await fsp.lstat(output);
  } catch (e) {
    if (errno(e) !== 'ENOENT' && errno(e) !== 'ENOTDIR')
      throw new StorageError(`cannot check output ${output}: ${(e as Error).message}`, output, { cause: e });
  }
  if (st?.isDirectory())
    throw new InvalidArgumentError('output', `path[${output}] is directory but requires file path`);
  if (st && !st.isFile() && !st.isSymbolicLink()) {
    throw new InvalidArgumentError(
      'output',
      `${output} is ${kindOf(st)}; orasfly only writes regular files, because it replaces ` +
        `the output atomically (a hard link into the store, or a copy) — it would replace the device, not write into it. Pass a file path`,
    );
  }
  if (dataPath !== undefined) {
    const [out, store] = await Promise.all([realPathLoose(output), realPathLoose(dataPath)]);
    const rel = path.relative(store, out);
    if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) {
      throw new InvalidArgumentError(
        'output',
        `${output} is inside the task store ${dataPath}; writing there would corrupt the store's entries. Choose a path outside it`,
      );
    }
  }
}

/**
 * Whether a name chosen by a registry (a layer's `org.opencontainers.image.title`) is safe as one
 * path segment in the user's directory: not empty, no separator, no control character, at most 255
 * bytes, and not a dot-name (which covers `.` and `..`, and keeps a registry from naming `.bashrc`).
 */
export function isSafeFileName(name: string | undefined): boolean {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    !name.startsWith('.') &&
    !/[\\/\x00-\x1f\x7f]/.test(name) &&
    Buffer.byteLength(name) <= 255
  );
}
