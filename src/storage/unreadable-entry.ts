/**
 * Entries whose metadata cannot be read (missing, truncated, not JSON, or naming another task):
 * what they are called and what they hold, so that the cache commands and GC can list, count and
 * delete them like any other entry instead of stepping over them. Without metadata only the peer
 * directory's own links say where the data is (`data`, and `data-file` for data born outside it),
 * and a data file outside the store is trusted only when {@link StoreLayout.ownsDataFile} says it
 * is this peer's advance hidden file.
 *
 * @module
 */
import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { DATA_FILE_LINK, type StoreLayout } from './store-layout.js';

/** A peer directory of the store whose metadata cannot be used. */
export interface UnreadableEntry {
  readonly taskId: string;
  readonly peerId: string;
  /** `<taskId>/<peerId>`, as the keys of readable entries. */
  readonly key: string;
  readonly peerDir: string;
  /** Why its metadata cannot be used (e.g. `corrupt metadata …: Unexpected end of JSON input`). */
  readonly reason: string;
}

/** The unreadable entry of a peer directory (`<dataPath>/<taskId>/<peerId>`). */
export function unreadableEntry(peerDir: string, reason: string): UnreadableEntry {
  const peerId = path.basename(peerDir);
  const taskId = path.basename(path.dirname(peerDir));
  return { taskId, peerId, key: `${taskId}/${peerId}`, peerDir, reason };
}

/** What an unreadable entry holds on disk. */
export interface UnreadableData {
  /** Bytes of its data file; 0 when it has none. */
  size: number;
  /** Links of the data inode; 0 when there is no data. */
  nlink: number;
  /** Deleting the entry frees its bytes: every link of the inode is one the removal unlinks. */
  exclusive: boolean;
  /** The data file: the advance hidden file when one is found, else the store's `data`. */
  dataFilePath: string;
  /** The metadata file's mtime (what last access is for readable entries), else the directory's, ms. */
  lastAccess: number;
}

/**
 * The data files outside the store that belong to an unreadable entry, for the caller to delete
 * with it: the targets of its `data` symbolic link (advance with `dataPath` on another filesystem)
 * and of its {@link DATA_FILE_LINK} (advance: made for every data file born outside the store), if
 * the store owns that name. Beside a `data` that is a hard link, a target must also be that inode:
 * a name that merely looks like ours proves less than a link.
 */
export async function outsideDataFiles(layout: StoreLayout, peerDir: string): Promise<string[]> {
  const peerId = path.basename(peerDir);
  const data = await lstat(path.join(peerDir, 'data'));
  const out: string[] = [];
  for (const link of ['data', DATA_FILE_LINK]) {
    const target = await linkTarget(path.join(peerDir, link));
    if (target === undefined || out.includes(target) || !layout.ownsDataFile(target, peerId)) continue;
    if (data?.isFile()) {
      const st = await lstat(target);
      if (st?.ino !== data.ino || st.dev !== data.dev) continue;
    }
    out.push(target);
  }
  return out;
}

/** Size, links and last access of an unreadable entry, for `cache list`, usage, clean and GC. */
export async function unreadableData(layout: StoreLayout, peerDir: string): Promise<UnreadableData> {
  const data = path.join(peerDir, 'data');
  const dataLst = await lstat(data);
  const outside = await outsideDataFiles(layout, peerDir);
  const file = outside[0] ?? (dataLst?.isFile() ? data : undefined);
  const st = file === undefined ? undefined : await lstat(file);
  // The removal unlinks the store's `data` (when it is the file or a hard link of it) and the owned
  // files outside: when those are all the names of the inode, its bytes are freed.
  let owned = 0;
  if (st?.isFile()) {
    for (const s of [dataLst, ...(await Promise.all(outside.map(lstat)))])
      if (s?.isFile() && s.ino === st.ino && s.dev === st.dev) owned++;
  }
  const meta = (await lstat(path.join(peerDir, 'metadata'))) ?? (await lstat(peerDir));
  return {
    size: st?.isFile() ? st.size : 0,
    nlink: st?.isFile() ? st.nlink : 0,
    exclusive: !st?.isFile() || st.nlink <= owned,
    dataFilePath: file ?? data,
    lastAccess: meta?.mtimeMs ?? 0,
  };
}

/** The absolute target of a symbolic link; `undefined` when `p` is not one. */
async function linkTarget(p: string): Promise<string | undefined> {
  const st = await lstat(p);
  if (!st?.isSymbolicLink()) return undefined;
  const t = await fsp.readlink(p).catch(() => undefined);
  return t === undefined ? undefined : path.resolve(path.dirname(p), t);
}

function lstat(p: string): Promise<Stats | undefined> {
  return fsp.lstat(p).catch(() => undefined);
}
