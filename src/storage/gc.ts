/**
 * GC planning: which entries to reclaim in one round. Pure (no filesystem access) so the policy is
 * unit-testable with plain numbers; `StorageManager.gc` gathers the inputs and deletes.
 *
 * What GC can free: only entries whose data inode is held by the store alone (`exclusive`). An entry
 * whose data is still hard-linked by an output (simple/advance on one filesystem) frees nothing when
 * deleted — the output keeps the inode alive — so the disk-usage trigger never evicts such entries,
 * and the quota trigger evicts them only after every exclusive entry is gone (upstream evicts by LRU
 * alone and so throws away reusable entries while freeing nothing).
 * GC never touches an output.
 *
 * @module
 */

/** One store entry as GC sees it. */
export interface GcCandidate {
  /** `<taskId>/<peerId>`. */
  key: string;
  /** Content length in bytes. */
  size: number;
  /** LRU order key (ms). */
  lastAccess: number;
  /** Expiry base (ms): last access, but never before the store was (re)loaded — upstream restarts expiry at reload. */
  expiryBase: number;
  /** Bytes only the store holds (deleting frees them). */
  exclusive: boolean;
  done: boolean;
  /** Being written or read right now (writer open, reader pin, or a live lock of another process). */
  active: boolean;
  /** Already marked for reclaim (waiting for readers to go). */
  marked: boolean;
}

/** Policy inputs of one round. */
export interface GcPolicy {
  now: number;
  /** ms; 0 = never. */
  taskExpireTime: number;
  /** bytes; 0 = off. */
  diskGCThreshold: number;
  /** percent; 0 = off. */
  diskGCThresholdPercent: number;
  /** ms; an unfinished task touched within it counts as being downloaded. */
  gcInterval: number;
}

/** Filesystem usage of `dataPath` (from `statfs`). */
export interface DiskUsage {
  total: number;
  used: number;
  /** used / (used + available) × 100, as `df` and gopsutil compute it. */
  usedPercent: number;
}

/** What a round decided. */
export interface GcPlan {
  /** Keys reclaimed by expiry. */
  expired: string[];
  /** Keys reclaimed by quota or disk usage, in eviction order. */
  evicted: string[];
  /** Σ size of unmarked entries − diskGCThreshold (≤ 0: no excess). */
  quotaExcess: number;
  /** Bytes above the disk-usage mark (0 when below or off). */
  usageExcess: number;
  /** Bytes that still had to be freed after every candidate was used. */
  remaining: number;
}

/** Computes the reclaim plan of one GC round. */
export function planGc(candidates: readonly GcCandidate[], p: GcPolicy, disk?: DiskUsage): GcPlan {
  const expired: string[] = [];
  const alive: GcCandidate[] = [];
  for (const c of candidates) {
    if (c.marked) continue;
    if (!c.active && p.taskExpireTime > 0 && c.expiryBase + p.taskExpireTime < p.now) expired.push(c.key);
    else alive.push(c);
  }
  const sum = alive.reduce((a, c) => a + c.size, 0);
  const quotaExcess = p.diskGCThreshold > 0 ? sum - p.diskGCThreshold : 0;
  let usageExcess = 0;
  if (p.diskGCThresholdPercent > 0 && disk && disk.usedPercent >= p.diskGCThresholdPercent) {
    usageExcess = Math.ceil(((disk.usedPercent - p.diskGCThresholdPercent) * disk.total) / 100);
  }
  const evicted: string[] = [];
  let needQuota = Math.max(0, quotaExcess);
  let needDisk = usageExcess;
  if (needQuota > 0 || needDisk > 0) {
    const pool = alive
      .filter((c) => !c.active && !(!c.done && p.now - c.lastAccess < p.gcInterval))
      // Entries that free space first, then least recently used; stable for equal keys.
      .map((c, i) => ({ c, i }))
      .sort((a, b) => Number(b.c.exclusive) - Number(a.c.exclusive) || a.c.lastAccess - b.c.lastAccess || a.i - b.i)
      .map(({ c }) => c);
    for (const c of pool) {
      if (needQuota <= 0 && needDisk <= 0) break;
      if (needQuota <= 0 && !c.exclusive) continue; // would free no disk space
      evicted.push(c.key);
      needQuota -= c.size;
      if (c.exclusive) needDisk -= c.size;
    }
  }
  return { expired, evicted, quotaExcess, usageExcess, remaining: Math.max(0, needQuota, needDisk) };
}
