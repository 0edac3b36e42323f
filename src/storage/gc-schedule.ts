/**
 * When GC rounds run: at most one per `gcInterval` across every process sharing the store. A stamp
 * file (`.gc/stamp`, its mtime the start of the last round) says whether one is due; the round lock
 * (`.gc/round.lock`) makes exactly one process start it.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './fs-util.js';
import type { ResolvedStorageOptions } from './options.js';
import type { StoreLayout } from './store-layout.js';
import { acquireTaskLock } from './task-lock.js';

/** Whether a round is due by the stamp. */
export async function gcDue(layout: StoreLayout, o: ResolvedStorageOptions): Promise<boolean> {
  const st = await fsp.stat(layout.gcStampPath).catch(() => undefined);
  if (!st) return true;
  const age = o.now() - st.mtimeMs;
  // A stamp from the future (clock set back) does not stop GC forever.
  return age >= o.gcInterval || age < -o.gcInterval;
}

/** Records that a round starts now. */
export async function stampRound(layout: StoreLayout, o: ResolvedStorageOptions): Promise<void> {
  const now = o.now();
  await fsp.mkdir(path.dirname(layout.gcStampPath), { recursive: true });
  await writeFileAtomic(layout.gcStampPath, `${new Date(now).toISOString()}\n`, { fsync: false, mtimeMs: now });
}

/**
 * When a round is due and no process is collecting: takes the round lock and writes the stamp, so
 * no other process starts a round for `gcInterval`. The caller runs the round, then releases.
 */
export async function claimDueRound(
  layout: StoreLayout,
  o: ResolvedStorageOptions,
): Promise<{ release(): Promise<void> } | undefined> {
  if (!(await gcDue(layout, o))) return undefined;
  await fsp.mkdir(path.dirname(layout.gcLockPath), { recursive: true });
  const lock = await acquireTaskLock(layout.gcLockPath, { tryOnly: true, staleMs: o.lockStaleTime }).catch(
    () => undefined,
  );
  if (!lock) return undefined; // another process is collecting
  try {
    if (!(await gcDue(layout, o))) {
      await lock.release();
      return undefined;
    }
    await stampRound(layout, o);
    return lock;
  } catch (e) {
    await lock.release();
    throw e;
  }
}
