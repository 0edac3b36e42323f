/**
 * Cross-process per-task lock: `<dataPath>/.locks/<taskId>.lock`, holding `{pid, hostname, createdAt,
 * token}` and created with `link(2)` of a fully written temp file (atomic and exclusive, like
 * O_EXCL, but a reader never sees a half-written lock).
 *
 * Liveness has two signals. On this host and in this pid namespace, a holder whose pid is gone
 * (`kill(pid, 0)` → ESRCH) is dead at once. Everywhere — another host on a shared NFS/Lustre store,
 * another container with this hostname, or a live pid that is not the holder (pid 1 after a
 * container restart, same hostname) — the holder shows it is alive with a heartbeat: it refreshes the lock's mtime every {@link DEFAULT_LOCK_HEARTBEAT_MS}. A waiter that
 * sees the mtime unchanged for `staleMs` of its *own* monotonic clock takes the lock over; comparing
 * the mtime with another host's wall clock would make clock skew decide. `staleMs` is many heartbeats
 * long, so a holder busy in a long synchronous stretch is not misjudged.
 *
 * Takeover without a double winner: a waiter that finds a dead holder claims *that lock instance*
 * by linking `<lock>.claim.<token>.<k>` (exclusive); only the winner of the highest live claim may
 * remove the lock, and only after re-reading it and finding the same token. A claimant that died
 * mid-takeover is itself detected by pid and superseded by claim k+1.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import debug from 'debug';
import { LockError, StorageError } from '../core/errors.js';
import type { SignalOptions } from '../core/types.js';
import { delay, errno, throwIfAborted, tmpSuffix, TMP_MARK, unlinkQuiet } from './fs-util.js';
import { monotonicMs } from '../internal/clock.js';

const log = debug('orasfly:storage');

/** How often a holder refreshes its lock's mtime. */
export const DEFAULT_LOCK_HEARTBEAT_MS = 5_000;

/**
 * The heartbeat for a stale time: {@link DEFAULT_LOCK_HEARTBEAT_MS}, or a third of `staleMs` when
 * that is shorter, so that a holder always beats several times before it could be taken for dead.
 */
export function heartbeatFor(staleMs: number): number {
  return Math.max(1, Math.min(DEFAULT_LOCK_HEARTBEAT_MS, Math.floor(staleMs / 3)));
}
/** How long a waiter watches an unchanged heartbeat before it takes the lock over. */
export const DEFAULT_LOCK_STALE_MS = 60_000;

/** Content of a lock (or claim) file. */
export interface LockInfo {
  pid: number;
  hostname: string;
  createdAt: number;
  token: string;
  /** The holder's pid namespace (see {@link pidNamespace}); absent from locks of older versions. */
  pidns?: string;
}

let ownPidNamespace: string | undefined;

/**
 * This process's pid namespace (`/proc/self/ns/pid`'s inode), `''` where there is none to read.
 * Containers sharing the host's network (`hostNetwork` pods, `docker --network host`) share its
 * hostname but not its pids: a pid is only meaningful within one namespace.
 */
export function pidNamespace(): string {
  if (ownPidNamespace === undefined) {
    try {
      ownPidNamespace = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '';
    } catch {
      ownPidNamespace = '';
    }
  }
  return ownPidNamespace;
}

/**
 * Where a pid can be checked with `kill(pid, 0)`: this hostname and pid namespace (`host@ns`), or
 * the hostname alone where namespaces cannot be read. Used to name reader claims.
 */
export function pidScope(): string {
  const ns = pidNamespace();
  return ns ? `${os.hostname()}@${ns}` : os.hostname();
}

/** A held lock. */
export interface TaskLock {
  readonly path: string;
  readonly info: LockInfo;
  /** Whether the caller had to wait for another holder before getting it. */
  readonly waited: boolean;
  /** Releases the lock if it is still ours (idempotent). */
  release(): Promise<void>;
  /** Whether the lock file is still ours (a holder stopped for longer than the stale time may have been taken over). */
  stillHeld(): Promise<boolean>;
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

/**
 * Whether `info` describes a holder that is certainly gone, judged by pid only where its pid means
 * what ours do: the same hostname and pid namespace. Elsewhere (another host, another container
 * with this hostname, a lock of a version that did not record its namespace) the heartbeat decides.
 */
export function isStale(info: LockInfo | undefined): boolean {
  if (!info) return true; // unreadable/corrupt: never produced by us (we link complete files)
  if (info.hostname !== os.hostname() || (info.pidns ?? '') !== pidNamespace()) return false;
  if (info.pid === process.pid) return !heldHere.has(info.token);
  return !pidAlive(info.pid);
}

/** Watches one lock instance's heartbeat (its mtime) on the waiter's monotonic clock. */
class HeartbeatWatch {
  #token: string | undefined;
  #mtimeMs = -1;
  #since = 0;

  /** Records an observation; returns for how long (ms) the heartbeat has not moved. */
  observe(token: string, mtimeMs: number): number {
    const now = monotonicMs();
    if (token !== this.#token || mtimeMs !== this.#mtimeMs) {
      this.#token = token;
      this.#mtimeMs = mtimeMs;
      this.#since = now;
    }
    return now - this.#since;
  }
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

/**
 * One takeover attempt of a stale lock instance. Returns `true` when the stale lock is gone (removed
 * by us, or already replaced), `false` when another live claimant is taking it over (wait for it).
 */
async function takeOver(lockPath: string, stale: LockInfo | undefined, me: LockInfo): Promise<boolean> {
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
    // A claim lives for milliseconds; one older than a minute is from a claimant that died (any host).
    const age = Date.now() - ((await fsp.stat(path.join(dir, c)).catch(() => undefined))?.mtimeMs ?? 0);
    if (ci && !isStale(ci) && ci.token !== me.token && age < DEFAULT_LOCK_STALE_MS) return false; // a live process is taking it over; wait
  }
  const claim = path.join(dir, `${prefix}${max + 1}`);
  if (!(await linkExclusive(claim, me))) return false;
  try {
    const now = await readInfo(lockPath);
    const same = stale ? now?.token === stale.token : now === undefined;
    if (same) {
      await unlinkQuiet(lockPath);
      log('took over stale lock %s (pid %s)', lockPath, stale?.pid ?? '?');
    }
    return true;
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
  /** Called once, at the first poll, when the lock is found held by a live process. */
  onWait?: ((holder: LockInfo, wait: LockWaitInfo) => void) | undefined;
  /** A holder whose heartbeat has not moved for this long is taken over. @defaultValue {@link DEFAULT_LOCK_STALE_MS} */
  staleMs?: number | undefined;
  /** Give up waiting after this long with a `LockError`; `0` = no limit. @defaultValue 0 */
  timeoutMs?: number | undefined;
  /** Refresh our lock's mtime this often while we hold it. @defaultValue {@link DEFAULT_LOCK_HEARTBEAT_MS} */
  heartbeatMs?: number | undefined;
}

/** What a waiter knows when it starts waiting. */
export interface LockWaitInfo {
  /** When the holder took the lock (its `createdAt`, by the holder's clock). */
  since: number;
  /** Heartbeat-stale time after which the lock is taken over. */
  staleMs: number;
  /** How long we wait at most; `0` = no limit. */
  timeoutMs: number;
}

/**
 * Acquires the lock file `lockPath`, waiting (polling with backoff) while a live process holds it and
 * taking over a lock whose process is dead.
 *
 * @throws LockError (`ERR_ORASFLY_LOCK`) when the lock directory is unusable; the signal's reason on abort.
 */
export async function acquireTaskLock(
  lockPath: string,
  opts: AcquireOptions & { tryOnly: true },
): Promise<TaskLock | undefined>;
export async function acquireTaskLock(lockPath: string, opts?: AcquireOptions): Promise<TaskLock>;
export async function acquireTaskLock(lockPath: string, opts: AcquireOptions = {}): Promise<TaskLock | undefined> {
  const me: LockInfo = {
    pid: process.pid,
    hostname: os.hostname(),
    createdAt: Date.now(),
    token: randomBytes(12).toString('hex'),
    pidns: pidNamespace(),
  };
  let wait = opts.pollMs ?? 10;
  let waited = false;
  const staleMs = opts.staleMs ?? DEFAULT_LOCK_STALE_MS;
  const timeoutMs = opts.timeoutMs ?? 0;
  const started = monotonicMs();
  const heartbeat = new HeartbeatWatch();
  // Registered before the link so a concurrent acquirer in this process never sees our fresh lock
  // (our pid, unknown token) as leaked.
  heldHere.add(me.token);
  let got = false;
  /** Waits before the next attempt (backoff) and enforces the timeout; `holder` names who is in the way. */
  const pause = async (holder: LockInfo | undefined, takingOver = false): Promise<void> => {
    const waitedMs = monotonicMs() - started;
    if (timeoutMs > 0 && waitedMs >= timeoutMs) {
      const who = holder
        ? `held by pid ${holder.pid} on ${holder.hostname} since ${new Date(holder.createdAt).toISOString()}`
        : 'unreadable';
      const state = takingOver
        ? 'its holder is gone and another waiter is taking it over'
        : `its heartbeat is alive; a dead holder is taken over after ${Math.round(staleMs / 1000)} s`;
      throw new LockError(
        `timed out after ${Math.round(waitedMs / 1000)} s waiting for the task lock ${lockPath}, ${who} (${state})`,
      );
    }
    await delay(Math.min(wait, timeoutMs > 0 ? Math.max(1, timeoutMs - waitedMs) : wait), opts.signal);
    wait = Math.min(wait * 2, opts.maxPollMs ?? 250);
  };
  try {
    for (;;) {
      throwIfAborted(opts.signal);
      try {
        await fsp.mkdir(path.dirname(lockPath), { recursive: true });
        if (await linkExclusive(lockPath, me)) break;
      } catch (e) {
        // Out of descriptors is not contention: say what it is and what to change.
        if (errno(e) === 'EMFILE' || errno(e) === 'ENFILE')
          throw new StorageError(
            `too many open files (${errno(e)}) creating the task lock ${lockPath}: raise the open-file limit ` +
              '(ulimit -n) or run fewer downloads at once (maxConcurrentDownloads)',
            lockPath,
            { cause: e },
          );
        throw new LockError(`cannot create lock ${lockPath}: ${(e as Error).message}`, { cause: e });
      }
      const holder = await readInfo(lockPath);
      if (holder === null) continue; // released meanwhile: retry now
      // Our own token: the link was made, and its answer lost (NFS retransmits a link(2) whose reply
      // went missing, and the retry finds the file: EEXIST). The lock is ours.
      if (holder?.token === me.token) break;
      if (isStale(holder)) {
        // Another claimant may be taking it over: then wait like for any holder, never spin.
        if (!(await takeOver(lockPath, holder, me))) {
          if (opts.tryOnly) return undefined;
          await pause(holder ?? undefined, true);
        }
        continue;
      }
      const mtime = (await fsp.stat(lockPath).catch(() => undefined))?.mtimeMs;
      if (mtime === undefined) continue; // released meanwhile
      // The pid check cannot see another host's processes, nor tell a reused pid from the holder.
      const still = heartbeat.observe(holder!.token, mtime);
      // A try-only caller (GC, clean, verify) never watches long enough: for it a heartbeat older
      // than twice the stale time by the wall clock is dead (liveHolder's rule; the margin absorbs
      // clock skew between hosts). Else a lock left by a host that never came back stayed for ever.
      const silentByClock = opts.tryOnly === true && Date.now() - mtime > 2 * staleMs;
      if (still >= staleMs || silentByClock) {
        log(
          'task lock %s: heartbeat of pid %d on %s stopped %d ms ago; taking over',
          lockPath,
          holder!.pid,
          holder!.hostname,
          Math.round(still),
        );
        if (!(await takeOver(lockPath, { ...holder!, pid: -1, hostname: os.hostname() }, me))) {
          if (opts.tryOnly) return undefined;
          await pause(holder!, true);
        }
        continue;
      }
      if (opts.tryOnly) return undefined;
      if (!waited) {
        waited = true;
        log('task lock %s held by pid %d on %s; waiting', lockPath, holder?.pid, holder?.hostname);
        if (holder) opts.onWait?.(holder, { since: holder.createdAt, staleMs, timeoutMs });
      }
      await pause(holder!);
    }
    got = true;
  } finally {
    if (!got) heldHere.delete(me.token);
  }
  let released = false;
  // The heartbeat: waiters on any host see the mtime move while we hold the lock.
  const beatMs = opts.heartbeatMs ?? heartbeatFor(staleMs);
  const beat = beatMs > 0 ? setInterval(() => void touchLock(lockPath), beatMs) : undefined;
  beat?.unref();
  return {
    path: lockPath,
    info: me,
    waited,
    async release() {
      if (released) return;
      released = true;
      if (beat) clearInterval(beat);
      const cur = await readInfo(lockPath);
      // Only remove the lock if it is still ours (never someone else's after a takeover). Still
      // registered as ours until it is gone, so no waiter of this process takes it for a leak.
      if (cur && cur.token === me.token) await unlinkQuiet(lockPath).catch(() => {});
      heldHere.delete(me.token);
    },
    async stillHeld() {
      if (released) return false;
      const cur = await readInfo(lockPath);
      return cur !== null && cur !== undefined && cur.token === me.token;
    },
  };
}

async function touchLock(lockPath: string): Promise<void> {
  const now = new Date();
  await fsp.utimes(lockPath, now, now).catch(() => {});
}

/**
 * Reads a lock's holder; `undefined` if there is no lock, its pid is gone, or its heartbeat is older
 * than twice `staleMs` by our wall clock (twice: another host's clock may be off).
 */
export async function liveHolder(lockPath: string, staleMs = DEFAULT_LOCK_STALE_MS): Promise<LockInfo | undefined> {
  const h = await readInfo(lockPath);
  if (!h || isStale(h)) return undefined;
  const st = await fsp.stat(lockPath).catch(() => undefined);
  if (!st || Date.now() - st.mtimeMs > 2 * staleMs) return undefined;
  return h;
}
