/**
 * Temp files left by killed processes: when one of ours is a leftover, and sweeping those from an
 * output directory. One rule for the store's own temp files (GC rounds) and for the outputs'
 * (materialize), so the two cannot drift apart.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { TMP_MARK, unlinkQuiet } from './fs-util.js';
import { pidAlive } from './task-lock.js';

/** A temp file lives for milliseconds; one this old was left by a killed process, on any host. */
export const LEFTOVER_AGE_MS = 10 * 60_000;

/**
 * The name materialize gives its temp file in an output directory: {@link TMP_MARK} and
 * `tmpSuffix()` (`<pid>.<8 hex>`), nothing else. Only names of exactly this shape are ever swept
 * from a user's directory.
 */
const OUTPUT_TEMP_RE = new RegExp(`^${TMP_MARK.replace(/[.-]/g, '\\$&')}(\\d{1,10})\\.[0-9a-f]{8}$`);

/** Every temp name of ours ends in `tmpSuffix()`: `<pid>.<8 hex>`. */
const SUFFIX_RE = /(\d{1,10})\.[0-9a-f]{8}$/;

/** The pid that made one of our temp files, from its name; `undefined` when the name has none. */
export function tempOwnerPid(name: string): number | undefined {
  const m = SUFFIX_RE.exec(path.basename(name));
  return m ? Number(m[1]) : undefined;
}

/** Whether `name` is exactly the shape of materialize's temp file (`.orasfly-tmp-<pid>.<8 hex>`). */
export function isOutputTempName(name: string): boolean {
  return OUTPUT_TEMP_RE.test(name);
}

/**
 * Whether a temp file of ours (`.orasfly-tmp-…<pid>.<rand>`) is a killed writer's leftover: a
 * regular file whose pid is gone on this host, and old — the pid alone says nothing about a file
 * another host of a shared filesystem is writing right now.
 */
export async function isLeftover(file: string): Promise<boolean> {
  const pid = tempOwnerPid(file);
  if (pid !== undefined && pidAlive(pid)) return false;
  const st = await fsp.lstat(file).catch(() => undefined);
  if (st?.isFile() !== true) return false;
  // A temp link of cached data has the data's mtime, however new the link: its own age is the
  // inode's change time, which the link set (and which utimes cannot set back).
  const changed = st.nlink > 1 ? Math.max(st.mtimeMs, st.ctimeMs) : st.mtimeMs;
  return Date.now() - changed > LEFTOVER_AGE_MS;
}

/**
 * Removes from `dir` the temp files of materialisations whose process was killed between making
 * the temp file and renaming it (a partial copy, or one more link of cached data, that nothing else
 * would ever delete). Only names of materialize's exact shape that {@link isLeftover} accepts; every
 * failure is ignored (the sweep is housekeeping, never a reason to fail a pull).
 *
 * @returns the files removed.
 */
export async function sweepOutputTemps(dir: string, log: (fmt: string, ...args: unknown[]) => void): Promise<string[]> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const n of names) {
    if (!isOutputTempName(n)) continue;
    const file = path.join(dir, n);
    if (!(await isLeftover(file))) continue;
    try {
      await unlinkQuiet(file);
    } catch (e) {
      log('cannot remove leftover temp file %s: %s', file, (e as Error).message);
      continue;
    }
    removed.push(file);
    log(
      'removed leftover temp file %s of pid %d, which is gone (a materialisation killed midway)',
      file,
      tempOwnerPid(n),
    );
  }
  return removed;
}
