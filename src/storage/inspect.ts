/**
 * The store as the cache commands see it: every entry listed, accounted, re-hashed or removed, in
 * one pass over the task directories — entries whose metadata cannot be read included, so that
 * none is invisible to `list` and `usage` or left behind by `verify` and `clean`. Removal goes
 * under each task lock, so nothing in use is ever touched.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import { InvalidArgumentError } from '../core/errors.js';
import type { SignalOptions } from '../core/types.js';
import type { Entry } from './entry.js';
import { readPeer, readTask, removeGarbagePeer, taskNames, type EntryFilesContext } from './entry-files.js';
import { throwIfAborted } from './fs-util.js';
import type { ResolvedStorageOptions } from './options.js';
import { acquireTaskLock, liveHolder } from './task-lock.js';
import { unreadableData, unreadableEntry, type UnreadableEntry } from './unreadable-entry.js';
import { hashMatches, validDataPath } from './validate.js';

/** Store accounting, from a scan of the store. */
export interface StorageUsage {
  /** Entries (completed, interrupted, and those whose metadata cannot be read). */
  tasks: number;
  /** Σ content lengths. */
  bytes: number;
  /** Bytes only the store holds: deleting those entries frees them. */
  exclusiveBytes: number;
  /** Bytes still hard-linked by outputs: deleting those entries frees nothing. */
  sharedBytes: number;
}

/** One entry as `cache list` shows it. */
export interface CacheEntryInfo {
  taskId: string;
  peerId: string;
  /** The reference it was pulled for, when recorded. */
  url: string | undefined;
  digest: string | undefined;
  /** Content length, bytes. */
  size: number;
  /** ms since epoch. */
  lastAccess: number;
  /** Links of the data inode (outputs share it); 0 when unknown. */
  nlink: number;
  /**
   * `complete`; `partial` (interrupted, resumable); `invalid` (data changed since completion);
   * `unreadable` (its metadata is missing, truncated or not metadata: `url` and `digest` are
   * unknown, `size` is that of the data file found, if any; `verify`, `gc` and `clean` remove it).
   */
  state: 'complete' | 'partial' | 'invalid' | 'unreadable';
  /** A process holds its task lock, or this one reads or writes it. */
  inUse: boolean;
  dataFilePath: string;
}

/** What {@link StorageManager.verify} found. */
export interface VerifyReport {
  /** Complete entries re-hashed. */
  checked: number;
  /** Entries that were corrupt or changed, removed (`dryRun`: would be). */
  removed: { key: string; reason: string }[];
  /**
   * Entries whose metadata cannot be read (missing, truncated, not JSON, naming another task), so
   * nothing can be checked or served: removed with their data (`dryRun`: would be). Not in `checked`.
   */
  unreadable: { key: string; reason: string }[];
  /** Entries left alone because they are in use (unreadable ones included). */
  skipped: string[];
}

/** What {@link StorageManager.clean} removed. */
export interface CleanReport {
  removed: string[];
  /** In use: never removed. */
  skipped: string[];
  freedBytes: number;
  /** Selectors that named no entry (a typo, or an entry already gone): the CLI fails for them. */
  unmatched: string[];
}

/** What the inspection functions need from the store. */
export interface InspectContext {
  readonly files: EntryFilesContext;
  readonly options: ResolvedStorageOptions;
  /** Removes an entry under its task lock if nobody uses it; `false` when it is in use. */
  removeLocked(e: Entry, reason: string): Promise<boolean>;
  /** An entry was dropped because its data is bad. */
  onDrop(d: { taskId: string; peerId: string; reason: string }): void;
}

/** Options of the commands that may delete. */
export interface InspectOptions extends SignalOptions {
  /** Report only; delete nothing. */
  dryRun?: boolean | undefined;
}

/**
 * Visits every entry: those with readable metadata (`visit`), and those without (`visitUnreadable`).
 * `held` says whether a process holds the task lock.
 */
async function scan(
  ctx: InspectContext,
  opts: SignalOptions,
  visit: (e: Entry, held: boolean) => Promise<void>,
  visitUnreadable: (u: UnreadableEntry, held: boolean) => Promise<void>,
): Promise<void> {
  const layout = ctx.files.layout;
  const locked = new Set(
    (await fsp.readdir(layout.locksDir).catch(() => [] as string[]))
      .filter((n) => n.endsWith('.lock'))
      .map((n) => n.slice(0, -'.lock'.length)),
  );
  for (const taskId of await taskNames(ctx.files)) {
    throwIfAborted(opts.signal);
    const { entries, garbage } = await readTask(ctx.files, taskId, true);
    if (entries.length === 0 && garbage.length === 0) continue;
    const held =
      locked.has(taskId) && (await liveHolder(layout.lockPath(taskId), ctx.options.lockStaleTime)) !== undefined;
    for (const e of entries) await visit(e, held);
    for (const g of garbage) await visitUnreadable(unreadableEntry(g.peerDir, g.why), held);
  }
}

/**
 * Removes an unreadable entry under its task lock, if the lock is free and the entry is still
 * unreadable (a scan may be minutes old when `verify` re-hashed big entries in between). Returns
 * whether it is gone.
 */
async function removeUnreadable(ctx: InspectContext, u: UnreadableEntry): Promise<boolean> {
  const lock = await acquireTaskLock(ctx.files.layout.lockPath(u.taskId), {
    tryOnly: true,
    staleMs: ctx.options.lockStaleTime,
  }).catch(() => undefined);
  if (!lock) return false;
  try {
    const now = await readPeer(ctx.files, u.taskId, u.peerId);
    if (now.kind === 'garbage') return await removeGarbagePeer(ctx.files, u.peerDir);
    // Readable meanwhile: not ours to remove. Absent: gone, unless only unreadable right now (EMFILE).
    return now.kind === 'absent' && (await fsp.lstat(u.peerDir).catch(() => undefined)) === undefined;
  } finally {
    await lock.release();
  }
}

/** Every entry, most recently used first. */
export async function listEntries(ctx: InspectContext, opts: SignalOptions = {}): Promise<CacheEntryInfo[]> {
  const out: CacheEntryInfo[] = [];
  await scan(
    ctx,
    opts,
    async (e, held) => {
      const valid = e.meta.done ? (await validDataPath(e)) !== undefined : false;
      out.push({
        taskId: e.taskId,
        peerId: e.peerId,
        url: e.meta.ext.url,
        digest: e.meta.ext.digest,
        size: e.meta.contentLength,
        lastAccess: e.lastAccess,
        nlink: valid ? e.nlink : 0,
        state: !e.meta.done ? 'partial' : valid ? 'complete' : 'invalid',
        inUse: held || e.busy,
        dataFilePath: e.meta.dataFilePath,
      });
    },
    async (u, held) => {
      const d = await unreadableData(ctx.files.layout, u.peerDir);
      out.push({
        taskId: u.taskId,
        peerId: u.peerId,
        url: undefined,
        digest: undefined,
        size: d.size,
        lastAccess: d.lastAccess,
        nlink: d.nlink,
        state: 'unreadable',
        inUse: held,
        dataFilePath: d.dataFilePath,
      });
    },
  );
  return out.sort((a, b) => b.lastAccess - a.lastAccess);
}

/** Entries, bytes, and which bytes deleting would actually free. */
export async function storeUsage(ctx: InspectContext, opts: SignalOptions = {}): Promise<StorageUsage> {
  const u: StorageUsage = { tasks: 0, bytes: 0, exclusiveBytes: 0, sharedBytes: 0 };
  await scan(
    ctx,
    opts,
    async (e) => {
      if (e.meta.done) await validDataPath(e);
      u.tasks++;
      u.bytes += e.meta.contentLength;
      if (e.exclusive) u.exclusiveBytes += e.meta.contentLength;
      else u.sharedBytes += e.meta.contentLength;
    },
    async (x) => {
      const d = await unreadableData(ctx.files.layout, x.peerDir);
      u.tasks++;
      u.bytes += d.size;
      if (d.exclusive) u.exclusiveBytes += d.size;
      else u.sharedBytes += d.size;
    },
  );
  return u;
}

/** Re-hashes complete entries; removes those whose data no longer matches. */
export async function verifyEntries(ctx: InspectContext, opts: InspectOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = { checked: 0, removed: [], unreadable: [], skipped: [] };
  await scan(
    ctx,
    opts,
    async (e, held) => {
      if (!e.meta.done) return;
      if (held || e.busy) {
        report.skipped.push(e.key);
        return;
      }
      report.checked++;
      const src = await validDataPath(e);
      let reason: string | undefined;
      if (!src) reason = 'data changed, truncated or missing since completion';
      else if (!(await hashMatches(e, src, opts.signal)))
        reason = `data does not match ${e.meta.ext.digest ?? 'its digest'}`;
      if (!reason) return;
      if (!opts.dryRun && !(await ctx.removeLocked(e, reason))) {
        report.skipped.push(e.key);
        return;
      }
      report.removed.push({ key: e.key, reason });
      if (!opts.dryRun) ctx.onDrop({ taskId: e.taskId, peerId: e.peerId, reason });
    },
    async (u, held) => {
      // Nothing to check, nothing that can be served: it only holds space.
      if (held || (!opts.dryRun && !(await removeUnreadable(ctx, u)))) {
        report.skipped.push(u.key);
        return;
      }
      report.unreadable.push({ key: u.key, reason: u.reason });
    },
  );
  return report;
}

/**
 * Removes all entries, or those a selector names: a digest, a task id, a reference (with or without
 * `oras://`), or the short forms `cache list` prints (the first 12 hex of a task id, `sha256:` and
 * the first 12 hex of a digest; any prefix of 6 hex or more). Never one in use.
 */
export async function cleanEntries(
  ctx: InspectContext,
  selectors: readonly string[] = [],
  opts: InspectOptions = {},
): Promise<CleanReport> {
  // An empty selector (an unset shell variable) must not fall back to "no selector", which is all.
  if (selectors.some((s) => s.trim() === ''))
    throw new InvalidArgumentError('selectors', 'a selector is empty; name an entry, or give none to clean them all');
  const wanted = selectors.map((s) => s.trim());
  const matched = new Set<string>();
  const matches = (taskId: string, digest?: string, url?: string): boolean => {
    if (wanted.length === 0) return true;
    let any = false;
    for (const s of wanted)
      if (selectorNames(s, taskId, digest, url)) {
        matched.add(s);
        any = true;
      }
    return any;
  };
  const report: CleanReport = { removed: [], skipped: [], freedBytes: 0, unmatched: [] };
  await scan(
    ctx,
    opts,
    async (e, held) => {
      if (!matches(e.taskId, e.meta.ext.digest, e.meta.ext.url)) return;
      if (held || e.busy) {
        report.skipped.push(e.key);
        return;
      }
      if (e.meta.done) await validDataPath(e);
      const exclusive = e.exclusive;
      if (!opts.dryRun && !(await ctx.removeLocked(e, 'cache clean'))) {
        report.skipped.push(e.key);
        return;
      }
      report.removed.push(e.key);
      if (exclusive) report.freedBytes += e.meta.contentLength;
    },
    async (u, held) => {
      // Without metadata only the task id can name it (its digest and reference are unknown).
      if (!matches(u.taskId)) return;
      const d = await unreadableData(ctx.files.layout, u.peerDir);
      if (held || (!opts.dryRun && !(await removeUnreadable(ctx, u)))) {
        report.skipped.push(u.key);
        return;
      }
      report.removed.push(u.key);
      if (d.exclusive) report.freedBytes += d.size;
    },
  );
  report.unmatched = wanted.filter((s) => !matched.has(s));
  return report;
}

/** Shortest hex prefix accepted for a task id or a digest (`cache list` prints 12). */
const MIN_PREFIX_HEX = 6;

/** Whether `cache clean` selector `s` names the entry of `taskId` (its `digest`, its reference `url`). */
function selectorNames(s: string, taskId: string, digest?: string, url?: string): boolean {
  if (s === taskId || s === digest || (url !== undefined && sameRef(s, url))) return true;
  const hex = /^(?:(sha256):)?([0-9a-f]+)$/.exec(s.toLowerCase());
  if (!hex || hex[2]!.length < MIN_PREFIX_HEX) return false;
  const [, alg, prefix] = hex;
  if (alg) return digest?.startsWith(`${alg}:${prefix}`) ?? false;
  return taskId.startsWith(prefix!) || (digest?.replace(/^[^:]*:/, '').startsWith(prefix!) ?? false);
}

/** Whether a `cache clean` selector names the reference an entry was pulled for (with or without `oras://`). */
function sameRef(selector: string, url: string): boolean {
  const strip = (s: string): string => s.replace(/^oras:\/\//i, '').replace(/\?.*$/, '');
  return strip(selector) === strip(url);
}
