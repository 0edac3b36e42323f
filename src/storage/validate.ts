/**
 * Whether a completed entry still holds what was completed: the stat fingerprint (same inode, size
 * and mtime as at completion) before every reuse, and a once-per-boot re-hash, because completion
 * does not fsync (what a power loss can lose, a reboot reveals).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import type { Entry } from './entry.js';
import { writeMetadata } from './metadata.js';

let cachedBootId: string | undefined;

/**
 * Identifies the current boot: Linux's boot id, elsewhere the boot time to the minute (a false
 * "new boot" only costs one re-hash).
 */
export function bootId(): string {
  if (cachedBootId) return cachedBootId;
  try {
    cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    cachedBootId = `boot-${Math.round((Date.now() / 1000 - os.uptime()) / 60)}`;
  }
  return cachedBootId;
}

/**
 * The path to read a completed entry's bytes from, if the data still is what was completed. Upstream
 * compares sizes only, so an output edited in place (it shares the inode!) was served to the next
 * pull. Falls back to the store's `data` link when the advance hidden file was deleted by the user but
 * the inode lives on. Records the inode's link count on the entry.
 */
export async function validDataPath(e: Entry): Promise<string | undefined> {
  const fp = e.meta.ext.fingerprint;
  if (!e.meta.done || !fp) return undefined;
  for (const p of new Set([e.meta.dataFilePath, e.storeDataPath])) {
    const st = await fsp.stat(p).catch(() => undefined);
    if (
      st?.isFile() &&
      st.size === e.meta.contentLength &&
      st.size === fp.size &&
      st.ino === fp.ino &&
      st.mtimeMs === fp.mtimeMs
    ) {
      e.nlink = st.nlink;
      return p;
    }
  }
  return undefined;
}

/**
 * Whether `dataPath` hashes to the entry's digest; re-hashed only for an entry completed in another
 * boot, which is then stamped with this boot.
 */
export async function verifiedThisBoot(
  e: Entry,
  dataPath: string,
  log: (fmt: string, ...args: unknown[]) => void,
  signal?: AbortSignal,
): Promise<boolean> {
  const current = bootId();
  if (e.meta.ext.bootId === current) return true;
  if (!(await hashMatches(e, dataPath, signal))) return false;
  e.meta.ext.bootId = current;
  await writeMetadata(e.metaPath, e.meta).catch((err: unknown) =>
    log('cannot stamp %s: %s', e.key, (err as Error).message),
  );
  log('task %s re-verified after a reboot', e.key);
  return true;
}

/** Re-hashes the data and compares it with the entry's digest (`cache verify`, reboots). */
export async function hashMatches(e: Entry, dataPath: string, signal?: AbortSignal): Promise<boolean> {
  const digest = e.meta.ext.digest;
  if (!digest) return false;
  const [alg, hex] = digest.split(':');
  if (alg !== 'sha256' && alg !== 'sha512') return false;
  const h = createHash(alg);
  for await (const chunk of createReadStream(dataPath, { highWaterMark: 1024 * 1024, signal }))
    h.update(chunk as Buffer);
  return h.digest('hex') === hex;
}
