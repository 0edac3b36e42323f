/**
 * Free-space checks made before a task creates anything: a declared blob size is a claim by the
 * registry, and a hostile or broken manifest may declare a petabyte.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { formatBytes } from '../core/units.js';
import { StorageQuotaError } from '../core/errors.js';

/** Bytes available to this user on the filesystem holding `dir` (its nearest existing ancestor). */
export async function availableBytes(dir: string): Promise<{ dir: string; bytes: number; dev: number } | undefined> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      const [s, st] = await Promise.all([fsp.statfs(d), fsp.stat(d)]);
      return { dir: d, bytes: s.bavail * s.bsize, dev: st.dev };
    } catch {
      if (path.dirname(d) === d) return undefined;
    }
  }
}

/**
 * Checks that `bytes` fit on the filesystem of each of `dirs` (a filesystem named twice is counted
 * once per distinct need: pass each directory that will receive a full copy).
 *
 * @throws StorageQuotaError (`ERR_ORASFLY_STORAGE_QUOTA`) naming the directory, the need and what is free.
 */
export async function assertFits(bytes: number, dirs: readonly string[], what: string): Promise<void> {
  if (bytes <= 0) return;
  const seen = new Set<number>();
  for (const dir of dirs) {
    const free = await availableBytes(dir);
    // A filesystem we cannot stat is not refused here; writing will say ENOSPC if it must.
    if (!free || seen.has(free.dev)) continue;
    seen.add(free.dev);
    if (bytes > free.bytes) {
      throw new StorageQuotaError(
        `${what} of ${formatBytes(bytes)} (${bytes} bytes) does not fit in ${free.dir}: ${formatBytes(free.bytes)} free; nothing was written`,
      );
    }
  }
}
