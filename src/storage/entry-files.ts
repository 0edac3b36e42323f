/**
 * Reading entries from disk and deleting them, for lookups, lazy recovery and GC. Loading never
 * deletes; recovery (under the task lock) removes what is provably the store's garbage. There is no
 * scan at open: a task directory is read when that task is looked up, begun, or collected.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Entry, type EntryTable } from './entry.js';
import type { DigestIndex } from './digest-index.js';
import { errno, TMP_MARK, unlinkQuiet, rmdirQuiet } from './fs-util.js';
import { decodeMetadata, type TaskMetadata } from './metadata.js';
import { isPeerIdName, isRealDirectory, isTaskIdName, removePeerDir, type StoreLayout } from './store-layout.js';
import type { StoreLink } from './strategies/storage-strategy.js';
import type { ReaderClaims } from './reader-claims.js';
import { outsideDataFiles } from './unreadable-entry.js';

/** What loading and removal need from the store. */
export interface EntryFilesContext {
  readonly layout: StoreLayout;
  readonly index: DigestIndex;
  readonly table: EntryTable;
  readonly log: (fmt: string, ...args: unknown[]) => void;
  /** Other processes' readers of completed entries, which removal waits for (and GC sweeps). */
  readonly claims: Pick<ReaderClaims, 'claimed' | 'sweepSilent'>;
}

/** Result of reading one peer directory. */
export type PeerRead =
  { kind: 'entry'; entry: Entry } | { kind: 'garbage'; peerDir: string; why: string } | { kind: 'absent' };

/**
 * Reads one peer directory: one `readdir` (which files are there, whether `data` is a symlink, temp
 * files) and the metadata through one open handle (content and mtime). The table's instance wins (it
 * carries this process's pins and writer state). Nothing is deleted here.
 *
 * @param knownRealDir - the caller saw the directory as a real directory (not a symlink) in its parent's listing.
 */
export async function readPeer(
  ctx: EntryFilesContext,
  taskId: string,
  peerId: string,
  knownRealDir = false,
): Promise<PeerRead> {
  const known = ctx.table.get(taskId, peerId);
  if (known) return { kind: 'entry', entry: known };
  const peerDir = ctx.layout.peerDir(taskId, peerId);
  if (!knownRealDir && !(await isRealDirectory(peerDir))) return { kind: 'absent' };
  const names = await fsp.readdir(peerDir, { withFileTypes: true }).catch(() => undefined);
  if (!names) return { kind: 'absent' };
  const metaFile = path.join(peerDir, 'metadata');
  if (!names.some((d) => d.name === 'metadata')) return { kind: 'garbage', peerDir, why: 'no metadata' };
  let text: string;
  let mtimeMs: number;
  try {
    const fh = await fsp.open(metaFile, 'r');
    try {
      mtimeMs = (await fh.stat()).mtimeMs;
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    // Gone meanwhile is "absent"; an I/O error (EMFILE, EIO) proves nothing about the entry: skip it.
    return errno(e) === 'ENOENT' ? { kind: 'garbage', peerDir, why: 'no metadata' } : { kind: 'absent' };
  }
  let meta: TaskMetadata;
  try {
    meta = decodeMetadata(text, metaFile);
  } catch (e) {
    return { kind: 'garbage', peerDir, why: (e as Error).message };
  }
  if (meta.taskId !== taskId || meta.peerId !== peerId)
    return { kind: 'garbage', peerDir, why: 'metadata names another task' };
  const storeDataPath = path.join(peerDir, 'data');
  const data = names.find((d) => d.name === 'data');
  const storeLink: StoreLink =
    meta.dataFilePath === storeDataPath ? 'self' : data?.isSymbolicLink() ? 'symlink' : 'hardlink';
  // Last access is the metadata file's mtime: every write sets it to `lastAccess`, and every access
  // refreshes it with utimes (cheap, no rewrite, visible to every process).
  const entry = new Entry(meta, peerDir, storeLink, mtimeMs);
  entry.hasTempFiles = names.some((d) => d.name.startsWith(TMP_MARK));
  return { kind: 'entry', entry };
}

/**
 * Peer-id shaped directories of a task (never following a symlinked task directory, nor a
 * symlink in place of a peer directory).
 *
 * @param knownRealDir - the caller saw the task directory as a real directory in the root's listing.
 */
export async function peerNames(ctx: EntryFilesContext, taskId: string, knownRealDir = false): Promise<string[]> {
  const dir = ctx.layout.taskDir(taskId);
  if (!knownRealDir && !(await isRealDirectory(dir))) return [];
  return (await fsp.readdir(dir, { withFileTypes: true }).catch(() => []))
    .filter((d) => d.isDirectory() && isPeerIdName(d.name))
    .map((d) => d.name);
}

/** Every entry of a task that has readable metadata, and the peer dirs that are garbage. */
export async function readTask(
  ctx: EntryFilesContext,
  taskId: string,
  knownRealDir = false,
): Promise<{ entries: Entry[]; garbage: { peerDir: string; why: string }[] }> {
  const entries: Entry[] = [];
  const garbage: { peerDir: string; why: string }[] = [];
  for (const peerId of await peerNames(ctx, taskId, knownRealDir)) {
    const r = await readPeer(ctx, taskId, peerId, true);
    if (r.kind === 'entry') entries.push(r.entry);
    else if (r.kind === 'garbage') garbage.push(r);
  }
  return { entries, garbage };
}

/** Task-id shaped real directories at the store's root (one `readdir`). */
export async function taskNames(ctx: EntryFilesContext): Promise<string[]> {
  return (await fsp.readdir(ctx.layout.root, { withFileTypes: true }).catch(() => []))
    .filter((d) => d.isDirectory() && isTaskIdName(d.name))
    .map((d) => d.name);
}

/**
 * Removes a peer directory without valid metadata (the caller holds the task lock): the advance
 * hidden file its links point at (only if it is ours, see {@link outsideDataFiles}), then the
 * store's own files. Returns whether the directory is gone.
 */
export async function removeGarbagePeer(ctx: EntryFilesContext, peerDir: string): Promise<boolean> {
  for (const f of await outsideDataFiles(ctx.layout, peerDir)) await unlinkQuiet(f).catch(() => {});
  const gone = await removePeerDir(peerDir);
  if (gone) ctx.log('remove load error file %s ok', peerDir);
  else ctx.log('left %s in place: it holds files the store did not create', peerDir);
  await rmdirQuiet(path.dirname(peerDir));
  return gone;
}

/**
 * Deletes an entry's files (never an output): the advance hidden file if it is ours, the store's
 * `data` and `metadata`, the peer dir, the task dir if empty, and the index pointer if it points
 * here. An entry that another process claims as its reader (`reader-claims.ts`) is only marked.
 * Errors are logged; returns whether everything went.
 */
export async function removeEntryFiles(ctx: EntryFilesContext, e: Entry, reason: string): Promise<boolean> {
  // A process is linking or copying it to an output right now: it goes when nobody reads it. Asked
  // whatever the entry looked like when read: one read as partial may have completed since (its
  // writer's completion claim then protects it until the output exists).
  if (await ctx.claims.claimed(e.taskId, e.peerId)) {
    e.marked = true;
    ctx.log('task %s not removed (%s): a reader holds a claim', e.key, reason);
    return false;
  }
  let ok = true;
  const tryDo = async (what: string, f: () => Promise<void>): Promise<void> => {
    try {
      await f();
    } catch (err) {
      ok = false;
      ctx.log('remove %s of %s failed: %s', what, e.key, (err as Error).message);
    }
  };
  const d = e.meta.dataFilePath;
  if (d !== e.storeDataPath && ctx.layout.ownsDataFile(d, e.peerId)) await tryDo(d, () => unlinkQuiet(d));
  // Metadata first: a crash from here on leaves a peer dir without metadata, which is garbage.
  await tryDo(e.metaPath, () => unlinkQuiet(e.metaPath));
  await tryDo(e.storeDataPath, () => unlinkQuiet(e.storeDataPath));
  await tryDo(e.peerDir, async () => {
    if (!(await removePeerDir(e.peerDir))) throw new Error('directory holds files the store did not create');
  });
  await rmdirQuiet(ctx.layout.taskDir(e.taskId));
  const dg = e.meta.ext.digest;
  if (dg && e.meta.done) await ctx.index.removeIfPointsAt(dg, { taskId: e.taskId, peerId: e.peerId }).catch(() => {});
  if (ok) ctx.table.delete(e);
  ctx.log('task %s removed (%s)', e.key, reason);
  return ok;
}

/** Our temp files left in a peer directory by a killed writer (the caller holds the task lock). */
export async function removeTempFiles(peerDir: string): Promise<void> {
  const names = await fsp.readdir(peerDir).catch(() => [] as string[]);
  await Promise.all(
    names.filter((n) => n.startsWith(TMP_MARK)).map((n) => unlinkQuiet(path.join(peerDir, n)).catch(() => {})),
  );
}
