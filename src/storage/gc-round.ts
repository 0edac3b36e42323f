/**
 * One GC round over the store on disk: gather every entry (what other processes wrote included),
 * plan with the pure {@link planGc}, and delete — each entry only under its task lock, never one
 * that a live process holds, writes or reads. Entries whose metadata cannot be read are removed and
 * counted as invalid. Also sweeps what crashed processes left: stale index pointers and temp files,
 * dead processes' locks.
 *
 * Cost: a few syscalls per entry (readdir, metadata read, two stats); nothing is kept in memory
 * beyond the candidates of the round.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import pLimit from 'p-limit';
import type { Entry } from './entry.js';
import {
  readPeer,
  readTask,
  removeEntryFiles,
  removeGarbagePeer,
  removeTempFiles,
  taskNames,
  type EntryFilesContext,
} from './entry-files.js';
import { rmdirQuiet, throwIfAborted, TMP_MARK, unlinkQuiet } from './fs-util.js';
import { RegistryCache } from './registry-cache.js';
import { type DiskUsage, type GcCandidate, planGc } from './gc.js';
import { isLeftover } from './leftovers.js';
import type { ResolvedStorageOptions } from './options.js';
import { acquireTaskLock, liveHolder } from './task-lock.js';
import { unreadableData, unreadableEntry } from './unreadable-entry.js';
import { validDataPath } from './validate.js';
import { monotonicMs } from '../internal/clock.js';

/** Task directories read at once by a round (measured by `bench/store-scale-bench.ts`). */
const SCAN_CONCURRENCY = 16;

/** Result of one GC round. */
export interface GcReport {
  /** `<taskId>/<peerId>` of entries reclaimed because they were idle longer than `taskExpireTime` (or, with `multiplex` off, completed: they serve nobody). */
  expired: string[];
  /** Entries reclaimed by the quota or disk-usage trigger, oldest first. */
  evicted: string[];
  /**
   * Completed entries whose data changed since completion, and entries whose metadata cannot be read
   * (missing, truncated, not JSON): removed, they can serve nobody.
   */
  invalid: string[];
  /** Entries whose files were deleted in this round (marked ones wait while a reader pins them). */
  reclaimed: string[];
  /** Bytes really freed (entries whose data inode no output shared). */
  freedBytes: number;
  /** Σ task sizes − `diskGCThreshold` before the round (≤ 0: no excess). */
  quotaExcess: number;
  /** Bytes above the `diskGCThresholdPercent` mark before the round. */
  usageExcess: number;
  /** Bytes that still should have been freed ("no enough tasks to gc"). */
  remaining: number;
  /** Filesystem usage of `dataPath`, when the percent trigger is on. */
  disk?: DiskUsage | undefined;
  /** Entries looked at. */
  scanned: number;
  /** Wall time of the round, ms. */
  costMs: number;
  /** Nothing was deleted: what would have been. */
  dryRun: boolean;
}

/** The `core.log` line of a round. */
export function gcRoundLine(r: GcReport): string {
  return `gc round done, scanned: ${r.scanned}, reclaimed: ${r.reclaimed.length}, freed: ${r.freedBytes} bytes, cost: ${r.costMs}ms`;
}

/** What a round needs. */
export interface GcContext extends EntryFilesContext {
  readonly options: ResolvedStorageOptions;
  readonly gcLog: (fmt: string, ...args: unknown[]) => void;
}

/** Options of one round. */
export interface GcRoundOptions {
  /** Plan only; delete nothing. */
  dryRun?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

/** Runs one round now. */
export async function runGcRound(ctx: GcContext, opts: GcRoundOptions = {}): Promise<GcReport> {
  const o = ctx.options;
  const started = monotonicMs();
  const now = o.now();
  const dryRun = opts.dryRun === true;
  const cands: GcCandidate[] = [];
  const byKey = new Map<string, Entry>();
  const invalid: Entry[] = [];
  const unreusable: Entry[] = [];
  // Entries whose metadata cannot be read: no candidates (nothing to plan with), removed at once.
  const unreadable = { seen: 0, invalid: [] as string[], reclaimed: [] as string[], freedBytes: 0 };
  const names = await taskNames(ctx);
  // One listing of the locks instead of one read per task: only tasks with a lock file are checked.
  const locked = new Set(
    (await fsp.readdir(ctx.layout.locksDir).catch(() => [] as string[]))
      .filter((n) => n.endsWith('.lock'))
      .map((n) => n.slice(0, -'.lock'.length)),
  );
  // Task directories are independent: read them several at a time (each is a handful of small
  // syscalls, bound by the thread pool's latency, not by the disk).
  const limit = pLimit(SCAN_CONCURRENCY);
  await Promise.all(
    names.map((taskId) =>
      limit(async () => {
        throwIfAborted(opts.signal);
        const { entries, garbage } = await readTask(ctx, taskId, true);
        const held =
          locked.has(taskId) && (await liveHolder(ctx.layout.lockPath(taskId), o.lockStaleTime)) !== undefined;
        unreadable.seen += garbage.length;
        if (!held && garbage.length > 0) {
          const found = await Promise.all(
            garbage.map(async (g) => ({
              u: unreadableEntry(g.peerDir, g.why),
              d: await unreadableData(ctx.layout, g.peerDir),
            })),
          );
          for (const { u } of found) {
            unreadable.invalid.push(u.key);
            ctx.gcLog('task %s will be reclaimed, metadata unreadable: %s', u.key, u.reason);
          }
          if (!dryRun)
            await withTaskLock(ctx, taskId, async () => {
              for (const { u, d } of found) {
                // Judged again under the lock: the scan may have caught a writer between its mkdir and
                // its first metadata, and that writer may have finished (and let the lock go) since.
                if ((await readPeer(ctx, u.taskId, u.peerId)).kind !== 'garbage') continue;
                if (!(await removeGarbagePeer(ctx, u.peerDir))) continue;
                unreadable.reclaimed.push(u.key);
                if (d.exclusive) unreadable.freedBytes += d.size;
                ctx.gcLog('task %s reclaimed', u.key);
              }
            });
        }
        if (entries.length === 0) {
          // Under the lock: a process creating its first entry here has just made this directory.
          if (!dryRun && garbage.length === 0 && !held)
            await withTaskLock(ctx, taskId, () => rmdirQuiet(ctx.layout.taskDir(taskId)));
          return;
        }
        // Temp files a killed writer left beside metadata; a live writer holds the lock, so `held` skips it.
        if (!dryRun && !held) {
          const dirty: Entry[] = [];
          for (const e of entries) if (!e.busy && e.hasTempFiles) dirty.push(e);
          if (dirty.length > 0)
            await withTaskLock(ctx, taskId, async () => Promise.all(dirty.map((e) => removeTempFiles(e.peerDir))));
        }
        for (const e of entries) {
          const active = e.busy || held;
          if (e.meta.done && !(await validDataPath(e)) && !active) {
            invalid.push(e);
            byKey.set(e.key, e);
            continue;
          }
          byKey.set(e.key, e);
          // Without multiplex nobody reuses a completed entry, and nothing uploads it: it is garbage.
          if (!o.multiplex && e.meta.done && !active) {
            unreusable.push(e);
            continue;
          }
          cands.push({
            key: e.key,
            size: e.meta.contentLength,
            lastAccess: e.lastAccess,
            expiryBase: e.lastAccess,
            exclusive: e.exclusive,
            done: e.meta.done,
            active,
            marked: e.marked,
          });
        }
      }),
    ),
  );
  if (!dryRun) await sweepLeftovers(ctx, new Set(byKey.keys()));
  let disk: DiskUsage | undefined;
  if (o.diskGCThresholdPercent > 0) {
    try {
      const s = await fsp.statfs(o.dataPath);
      const used = (s.blocks - s.bfree) * s.bsize;
      const avail = s.bavail * s.bsize;
      disk = { total: s.blocks * s.bsize, used, usedPercent: used + avail > 0 ? (used / (used + avail)) * 100 : 0 };
    } catch (err) {
      ctx.gcLog('statfs %s failed: %s', o.dataPath, (err as Error).message);
    }
  }
  const plan = planGc(
    cands,
    {
      now,
      taskExpireTime: o.taskExpireTime,
      diskGCThreshold: o.diskGCThreshold,
      diskGCThresholdPercent: o.diskGCThresholdPercent,
      gcInterval: o.gcInterval,
    },
    disk,
  );
  if (plan.evicted.length > 0)
    ctx.gcLog(
      'quota threshold reached, start gc oldest task, size: %d bytes',
      Math.max(plan.quotaExcess, plan.usageExcess),
    );
  const expired = [...unreusable.map((e) => e.key), ...plan.expired];
  const chosen = [...invalid.map((e) => e.key), ...expired, ...plan.evicted];
  for (const key of chosen) {
    const e = byKey.get(key)!;
    ctx.gcLog(
      'task %s will be reclaimed, marked, last access: %s, size: %d',
      key,
      new Date(e.lastAccess).toISOString(),
      e.meta.contentLength,
    );
  }
  if (plan.remaining > 0) ctx.gcLog('no enough tasks to gc, remind %d bytes', plan.remaining);
  const reclaimed: string[] = [];
  let freedBytes = 0;
  if (!dryRun) {
    for (const key of chosen) {
      const scanned = byKey.get(key)!;
      const live = ctx.table.get(scanned.taskId, scanned.peerId);
      if (live?.busy) {
        // Read by this process right now: no longer offered, deleted when the last reader leaves.
        live.marked = true;
        continue;
      }
      const exclusive = scanned.exclusive;
      const gone = await withTaskLock(ctx, scanned.taskId, async () => {
        // The scan may be old: another process may have reused, resumed or completed the entry since.
        // Under the lock, delete only what is still as the round saw it.
        const r = await readPeer(ctx, scanned.taskId, scanned.peerId);
        if (r.kind !== 'entry') return false;
        const now = r.entry;
        if (now.busy) {
          now.marked = true;
          return false;
        }
        if (
          now.meta.done !== scanned.meta.done ||
          now.lastAccess > scanned.lastAccess ||
          now.meta.pieces.size !== scanned.meta.pieces.size
        )
          return false;
        return removeEntryFiles(ctx, now, 'gc');
      });
      if (gone) {
        reclaimed.push(key);
        if (exclusive) freedBytes += scanned.meta.contentLength;
        ctx.gcLog('task %s reclaimed', key);
      }
    }
  }
  reclaimed.unshift(...unreadable.reclaimed);
  freedBytes += unreadable.freedBytes;
  ctx.gcLog('marked %d task(s), reclaimed %d task(s)', chosen.length + unreadable.invalid.length, reclaimed.length);
  return {
    expired,
    evicted: plan.evicted,
    invalid: [...unreadable.invalid, ...invalid.map((e) => e.key)],
    reclaimed,
    freedBytes,
    quotaExcess: plan.quotaExcess,
    usageExcess: plan.usageExcess,
    remaining: plan.remaining,
    disk,
    scanned: cands.length + invalid.length + unreusable.length + unreadable.seen,
    costMs: Math.round(monotonicMs() - started),
    dryRun,
  };
}

/** Runs `f` holding the task lock if it is free right now; `false` when another process holds it. */
async function withTaskLock<T>(ctx: GcContext, taskId: string, f: () => Promise<T>): Promise<T | false> {
  const lock = await acquireTaskLock(ctx.layout.lockPath(taskId), {
    tryOnly: true,
    staleMs: ctx.options.lockStaleTime,
  }).catch(() => undefined);
  if (!lock) return false;
  try {
    return await f();
  } finally {
    await lock.release();
  }
}

/** Index pointers to nothing, temp files of dead writers, dead processes' locks, stale registry records. */
async function sweepLeftovers(ctx: GcContext, seen: ReadonlySet<string>): Promise<void> {
  // taskExpireTime 0 means "never by age": registry records too (a cut-off of now would drop them all).
  if (ctx.options.taskExpireTime > 0)
    await new RegistryCache(ctx.layout.root).sweep(ctx.options.now() - ctx.options.taskExpireTime).catch(() => 0);
  const limit = pLimit(SCAN_CONCURRENCY);
  await Promise.all(
    (await ctx.index.files()).map((x) =>
      limit(async () => {
        if (x.tmp) {
          if (await isLeftover(x.file)) await unlinkQuiet(x.file).catch(() => {});
          return;
        }
        const { ref, ino } = await ctx.index.readFile(x.file);
        // An entry the scan saw is there; anything else is checked on disk (it may have completed since).
        const ok =
          ref !== undefined &&
          (seen.has(`${ref.taskId}/${ref.peerId}`) ||
            (await fsp.stat(path.join(ctx.layout.peerDir(ref.taskId, ref.peerId), 'metadata')).then(
              () => true,
              () => false,
            )));
        if (!ok) await ctx.index.unlinkIfSame(x.file, ino);
      }),
    ),
  );
  await ctx.claims.sweepSilent();
  for (const n of await fsp.readdir(ctx.layout.locksDir).catch(() => [] as string[])) {
    if (n.endsWith('.lock')) {
      // tryOnly takes a dead holder's lock over; releasing it leaves nothing behind.
      const l = await acquireTaskLock(path.join(ctx.layout.locksDir, n), {
        tryOnly: true,
        staleMs: ctx.options.lockStaleTime,
      }).catch(() => undefined);
      await l?.release();
    } else if (n.startsWith(TMP_MARK)) {
      if (await isLeftover(path.join(ctx.layout.locksDir, n)))
        await unlinkQuiet(path.join(ctx.layout.locksDir, n)).catch(() => {});
    }
  }
}
