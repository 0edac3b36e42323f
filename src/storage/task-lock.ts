/**
 * Cross-process per-task lock: `<dataPath>/.locks/<taskId>.lock`, holding `{pid, hostname, createdAt,
 * token}` and created with `link(2)` of a fully written temp file (atomic and exclusive, like
 * O_EXCL, but a reader never sees a half-written lock).
 *
 * Why not proper-lockfile: its staleness is mtime-based, so the holder must refresh the mtime from a
 * timer; a process stuck in a long synchronous stretch (or simply a slow 1 GiB write on a busy disk)
 * is then misjudged as dead and two writers share a task. A pid check is exact on one host: the lock
 * is stale iff its process is gone (`kill(pid, 0)` → ESRCH). Locks from another host are never judged
 * stale (we cannot see its processes); we wait for them, honouring the caller's signal.
 *
 * Takeover without a double winner: a waiter that finds a dead holder claims *that lock instance*
 * by linking `<lock>.claim.<token>.<k>` (exclusive); only the winner of the highest live claim may
 * remove the lock, and only after re-reading it and finding the same token. A claimant that died
 * mid-takeover is itself detected by pid and superseded by claim k+1.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import debug from 'debug';
import { LockError } from '../errors.js';
import type { SignalOptions } from '../source/resource-client.js';
import { delay, errno, throwIfAborted, tmpSuffix, TMP_MARK, unlinkQuiet } from './fs-util.js';

const log = debug('orasfly:storage');

/** Content of a lock (or claim) file. */
export interface LockInfo {
  pid: number;
  hostname: string;
  createdAt: number;
  token: string;
}

/** A held lock. */
export interface TaskLock {
  readonly path: string;
  readonly info: LockInfo;
  /** Whether the caller had to wait for another holder before getting it. */
  readonly waited: boolean;
  /** Releases the lock if it is still ours (idempotent). */
  release(): Promise<void>;
}

/** Tokens of locks held by this process: a lock file with our pid but an unknown token is a leak. */
const heldHere = new Set<string>();

/** Whether a process exists on this host. EPERM means it exists but belongs to someone else. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM';
  }
}

/** Whether `info` describes a holder that is certainly gone. */
export function isStale(info: LockInfo | undefined): boolean {
  if (!info) return true; // unreadable/corrupt: never produced by us (we link complete files)
  if (info.hostname !== os.hostname()) return false;
  if (info.pid === process.pid) return !heldHere.has(info.token);
  return !pidAlive(info.pid);
}

async function readInfo(file: string): Promise<LockInfo | undefined | null> {
  try {
    const j = JSON.parse(await fsp.readFile(file, 'utf8')) as LockInfo;
    if (typeof j.pid !== 'number' || typeof j.hostname !== 'string' || typeof j.token !== 'string') return undefined;
    return j;
  } catch (e) {
    if (errno(e) === 'ENOENT') return null; // gone
    return undefined; // corrupt
  }
}

/** Creates `target` exclusively with `info` as content. True if we created it. */
async function linkExclusive(target: string, info: LockInfo): Promise<boolean> {
  const tmp = path.join(path.dirname(target), `${TMP_MARK}lock.${tmpSuffix()}`);
  await fsp.writeFile(tmp, JSON.stringify(info), { mode: 0o644 });
  try {
    await fsp.link(tmp, target);
    return true;
  } catch (e) {
    if (errno(e) === 'EEXIST') return false;
    throw e;
  } finally {
    await unlinkQuiet(tmp).catch(() => {});
  }
}

/** One takeover attempt of a stale lock instance. Returns when the stale lock is gone (or was not ours to remove). */
async function takeOver(lockPath: string, stale: LockInfo | undefined, me: LockInfo): Promise<void> {
  const dir = path.dirname(lockPath);
  const base = path.basename(lockPath);
  const inst = stale ? stale.token.replace(/[^A-Za-z0-9]/g, '') : 'corrupt';
  const prefix = `${base}.claim.${inst}.`;
  const claims = (await fsp.readdir(dir)).filter((n) => n.startsWith(prefix));
  let max = 0;
  for (const c of claims) {
    const k = Number(c.slice(prefix.length));
    if (!Number.isInteger(k)) continue;
    max = Math.max(max, k);
    const ci = await readInfo(path.join(dir, c));
    if (ci && !isStale(ci) && ci.token !== me.token) return; // a live process is taking it over; wait
  }
  const claim = path.join(dir, `${prefix}${max + 1}`);
  if (!(await linkExclusive(claim, me))) return;
  try {
    const now = await readInfo(lockPath);
    const same = stale ? now?.token === stale.token : now === undefined;
    if (same) {
      await unlinkQuiet(lockPath);
      log('took over stale lock %s (pid %s)', lockPath, stale?.pid ?? '?');
    }
  } finally {
    const left = (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(prefix));
    await Promise.all(left.map((n) => unlinkQuiet(path.join(dir, n)).catch(() => {})));
  }
}

/** Options of {@link acquireTaskLock}. */
export interface AcquireOptions extends SignalOptions {
  /** Give up at once (resolve `undefined`) instead of waiting for a live holder. */
  tryOnly?: boolean | undefined;
  /** First poll interval in ms (doubles up to `maxPollMs`). @defaultValue 10 */
  pollMs?: number | undefined;
  /** @defaultValue 250 */
  maxPollMs?: number | undefined;
  /** Called once when the lock is found held by a live process. */
  onWait?: ((holder: LockInfo) => void) | undefined;
}

/**
 * Acquires the lock file `lockPath`, waiting (polling with backoff) while a live process holds it and
 * taking over a lock whose process is dead.
 *
 * @throws LockError (`ERR_ORASFLY_LOCK`) when the lock directory is unusable; the signal's reason on abort.
 */
export async function acquireTaskLock(lockPath: string, opts: AcquireOptions & { tryOnly: true }): Promise<TaskLock | undefined>;
export async function acquireTaskLock(lockPath: string, opts?: AcquireOptions): Promise<TaskLock>;
export async function acquireTaskLock(lockPath: string, opts: AcquireOptions = {}): Promise<TaskLock | undefined> {
  const me: LockInfo = { pid: process.pid, hostname: os.hostname(), createdAt: Date.now(), token: randomBytes(12).toString('hex') };
  let wait = opts.pollMs ?? 10;
  let waited = false;
  // Registered before the link so a concurrent acquirer in this process never sees our fresh lock
  // (our pid, unknown token) as leaked.
  heldHere.add(me.token);
  let got = false;
  try {
    for (;;) {
      throwIfAborted(opts.signal);
      try {
        await fsp.mkdir(path.dirname(lockPath), { recursive: true });
        if (await linkExclusive(lockPath, me)) break;
      } catch (e) {
        throw new LockError(`cannot create lock ${lockPath}: ${(e as Error).message}`, { cause: e });
      }
      const holder = await readInfo(lockPath);
      if (holder === null) continue; // released meanwhile: retry now
      if (isStale(holder)) {
        await takeOver(lockPath, holder, me);
        continue;
      }
      if (opts.tryOnly) return undefined;
      if (!waited) {
        waited = true;
        log('task lock %s held by pid %d on %s; waiting', lockPath, holder?.pid, holder?.hostname);
        if (holder) opts.onWait?.(holder);
      }
      await delay(wait, opts.signal);
      wait = Math.min(wait * 2, opts.maxPollMs ?? 250);
    }
    got = true;
  } finally {
    if (!got) heldHere.delete(me.token);
  }
  let released = false;
  return {
    path: lockPath,
    info: me,
    waited,
    async release() {
      if (released) return;
      released = true;
      heldHere.delete(me.token);
      const cur = await readInfo(lockPath);
      // Only remove the lock if it is still ours (never someone else's after a takeover).
      if (cur && cur.token === me.token) await unlinkQuiet(lockPath).catch(() => {});
    },
  };
}

/** Reads a lock's holder; `undefined` if there is no lock or it is stale. */
export async function liveHolder(lockPath: string): Promise<LockInfo | undefined> {
  const h = await readInfo(lockPath);
  return h && !isStale(h) ? h : undefined;
}
