/**
 * Naming and checking outputs, for single and whole-artifact pulls alike: a file named by a layer's
 * title (never a dot-name, never outside its directory), dfget's output checks (not a directory,
 * not inside the store, the parent created), and refusing to replace a file by a name the registry
 * chose.
 *
 * @module
 */
import path from 'node:path';
import { lstat, mkdir } from 'node:fs/promises';
import { InvalidArgumentError, StorageError } from '../core/errors.js';
import type { ResolvedResource } from '../source/resource-client.js';
import { assertOutputPath, isSafeFileName } from '../storage/output-path.js';

/** Deepest `a/b/c` title accepted: titles name files of an artifact, not trees. */
const MAX_TITLE_DEPTH = 8;

/**
 * The relative path a title names inside the output directory: `/`-separated segments, each a
 * safe file name ({@link isSafeFileName}: no `..`, no dot-names, no control characters), never
 * absolute; `undefined` when it is not safe.
 */
export function layerPath(title: string): string | undefined {
  const segments = title.split('/');
  if (segments.length > MAX_TITLE_DEPTH || !segments.every((s) => isSafeFileName(s))) return undefined;
  return segments.join(path.sep);
}

/**
 * The file name for an output given as a directory: the layer's `org.opencontainers.image.title`
 * when it is a safe single name (no separators, not `.`/`..`, no control characters, ≤ 255 bytes).
 *
 * @throws InvalidArgumentError (field `output`) when there is no safe title.
 */
export function outputNameFromTitle(resolved: ResolvedResource, dir: string): string {
  const title = resolved.title;
  // Not a dot-name either: a registry must not be able to name `.bashrc` in the user's directory.
  if (title !== undefined && isSafeFileName(title)) return title;
  const why =
    title === undefined
      ? 'the layer has no org.opencontainers.image.title'
      : `the layer's title ${JSON.stringify(title.slice(0, 80))} is not a safe file name`;
  throw new InvalidArgumentError(
    'output',
    `${dir} ends with a separator, so it names a directory, and ${why}; pass a file path with -O`,
  );
}

/**
 * The output for a request whose `-O` names a directory: the layer's title inside it, checked like
 * any output, and never an existing file (a name chosen by the registry replaces nothing the user
 * has, as curl -J refuses to).
 *
 * @throws InvalidArgumentError (field `output`) without a safe title, or when the file exists.
 */
export async function titledOutput(dir: string, resolved: ResolvedResource, dataPath: string): Promise<string> {
  const output = path.join(dir, outputNameFromTitle(resolved, dir));
  await checkOutput(output, dataPath);
  const exists = await lstat(output).then(
    () => true,
    () => false,
  );
  if (exists)
    throw new InvalidArgumentError(
      'output',
      `${output} exists; the name comes from the layer's title, and orasfly does not ` +
        `replace a file by a name the registry chose (pass -O ${output} to replace it)`,
    );
  return output;
}

/**
 * dfget's output checks (not a directory; the parent directory is created) plus ours: only a
 * regular file may be replaced, and never one inside the store.
 */
export async function checkOutput(output: string, dataPath: string): Promise<void> {
  await assertOutputPath(output, dataPath);
  try {
    // The umask decides, as for the output file itself (0644 under 022): dfget's 0700 made shared
    // project directories (`-O /shared/run1/x.sif`, `--all-layers`) unreadable to the group.
    await mkdir(path.dirname(output), { recursive: true });
  } catch (e) {
    throw new StorageError(
      `cannot create the output directory of ${output}: ${(e as Error).message}`,
      path.dirname(output),
      { cause: e },
    );
  }
}

/**
 * Every directory between `outputDir` and `output` that exists must be a real directory: a
 * symbolic link there (made by whoever could write the directory) would take a layer elsewhere.
 */
export async function assertRealDirectories(outputDir: string, output: string): Promise<void> {
  for (let d = path.dirname(output); d.startsWith(outputDir) && d !== outputDir; d = path.dirname(d)) {
    const st = await lstat(d).catch(() => undefined);
    if (st && !st.isDirectory())
      throw new InvalidArgumentError(
        'outputDir',
        `${d} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; a layer title names a directory there`,
      );
  }
}
