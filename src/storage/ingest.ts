/**
 * Ingest under the task lock: resume an interrupted entry (re-hashing its recorded pieces and keeping
 * only those that still match) or create a new one through the strategy. containerd's
 * `resumeStatus`/`writer` split, reduced to what a task needs.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, StorageError } from '../core/errors.js';
import { Entry } from './entry.js';
import {
  readTask,
  removeEntryFiles,
  removeGarbagePeer,
  removeTempFiles,
  type EntryFilesContext,
} from './entry-files.js';
import { assertFits, availableBytes } from './free-space.js';
import { assertTaskIdName, DATA_FILE_LINK, isPeerIdName } from './store-layout.js';
import { ADVANCE_STRATEGY } from './strategies/advance.js';
import { quote } from '../core/describe.js';
import { assertDigest } from '../core/digest.js';
import { errno } from './fs-util.js';
import { METADATA_VERSION, type PieceRecord, writeMetadata } from './metadata.js';
import type { PieceDigestAlgorithm } from './options.js';
import { hashFileRange, splitPieceDigest } from './piece-digest.js';
import { pieceAt, planPieces } from '../core/piece-plan.js';
import type { StorageStrategy, StrategyContext } from './strategies/storage-strategy.js';

/** Arguments of {@link StorageManager.beginTask}. */
export interface BeginTaskRequest {
  /** Dragonfly task id (64 lower-case hex); used as a directory name. */
  taskId: string;
  /** Peer id of this request (`<ip>-<pid>-<uuid>`); a resumed task keeps its original peer id. */
  peerId: string;
  /** Blob digest, if known up front; indexed at completion. */
  digest?: string | undefined;
  /** Blob size in bytes (≥ 0). */
  contentLength: number;
  /** Piece size in bytes (> 0). */
  pieceSize: number;
  /** Absolute output path; the advance strategy gives birth to the data file next to it. */
  output?: string | undefined;
  /** Dragonfly `taskMeta`, stored verbatim. */
  taskMeta?: Record<string, unknown> | undefined;
  /** The reference pulled (credentials stripped), recorded for `cache list` / `cache clean REF`. */
  url?: string | undefined;
}

/** What ingest needs beyond loading and removal. */
export interface IngestContext extends EntryFilesContext {
  readonly strategy: StorageStrategy;
  readonly pieceDigest: PieceDigestAlgorithm;
  readonly now: () => number;
}

/**
 * Resumes the best interrupted entry of `req`'s task (same digest, size and piece size, most pieces)
 * and deletes the other interrupted ones (dead weight: we hold the lock). Returns the entry with its
 * data file open, or `undefined` when there is nothing to resume.
 */
export async function resume(
  ctx: IngestContext,
  req: BeginTaskRequest,
  entries: readonly Entry[],
): Promise<{ entry: Entry; fh: fsp.FileHandle } | undefined> {
  const interrupted = entries.filter((e) => !e.meta.done && !e.writing && !e.marked);
  let best: Entry | undefined;
  for (const e of interrupted) {
    const x = e.meta;
    const ok = await fsp.stat(x.dataFilePath).then(
      (s) => s.isFile(),
      () => false,
    );
    if (
      ok &&
      ctx.layout.ownsDataFile(x.dataFilePath, x.peerId, e.storeDataPath) &&
      x.contentLength === req.contentLength &&
      x.ext.pieceSize === req.pieceSize &&
      x.ext.digest === req.digest
    ) {
      if (!best || x.pieces.size > best.meta.pieces.size) best = e;
    }
  }
  for (const e of interrupted) if (e !== best) await removeEntryFiles(ctx, e, 'superseded interrupted entry');
  if (!best) return undefined;
  const m = best.meta;
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(m.dataFilePath, 'r+');
  } catch {
    await removeEntryFiles(ctx, best, 'interrupted entry lost its data');
    return undefined;
  }
  const plan = planPieces(m.contentLength, req.pieceSize);
  const buf = Buffer.allocUnsafe(Math.min(req.pieceSize, 1 << 20));
  const kept = new Map<number, PieceRecord>();
  for (const p of [...m.pieces.values()].sort((a, b) => a.num - b.num)) {
    const want = p.num < plan.totalPieces ? pieceAt(plan, p.num).range : undefined;
    if (!want || want.start !== p.range.start || want.length !== p.range.length) continue;
    const got = await hashFileRange(fh, p.range.start, p.range.length, splitPieceDigest(p.digest).alg, buf).catch(
      () => undefined,
    );
    if (got === p.digest) kept.set(p.num, p);
  }
  ctx.log('resume %s: %d of %d recorded pieces verified', best.key, kept.size, m.pieces.size);
  m.pieces = kept;
  best.writing = true;
  best.touch(ctx.now());
  try {
    await writeMetadata(best.metaPath, m);
  } catch (err) {
    best.writing = false;
    await fh.close();
    throw err;
  }
  return { entry: ctx.table.adopt(best), fh };
}

/** Creates a new entry: peer dir, metadata first (a crash leaves something GC can clean), then the data file via the strategy. */
export async function create(ctx: IngestContext, req: BeginTaskRequest): Promise<Entry> {
  const taskDir = ctx.layout.taskDir(req.taskId);
  const peerDir = ctx.layout.peerDir(req.taskId, req.peerId);
  try {
    // Twice at most: GC may remove an empty task directory between the two mkdir calls.
    for (let attempt = 0; ; attempt++) {
      await fsp.mkdir(taskDir, { recursive: true, mode: 0o700 });
      try {
        await fsp.mkdir(peerDir, { mode: 0o700 });
        break;
      } catch (e) {
        if (errno(e) !== 'ENOENT' || attempt > 0) throw e;
      }
    }
  } catch (err) {
    if (errno(err) === 'EEXIST')
      throw new InvalidArgumentError('peerId', `task ${req.taskId} already has a peer ${req.peerId}`);
    throw new StorageError(`cannot create ${peerDir}: ${(err as Error).message}`, peerDir, { cause: err });
  }
  const storeDataPath = path.join(peerDir, 'data');
  const sctx: StrategyContext = {
    dataPath: ctx.layout.root,
    taskId: req.taskId,
    peerId: req.peerId,
    peerDir,
    storeDataPath,
    output: req.output === undefined ? undefined : path.resolve(req.output),
  };
  const now = ctx.now();
  const e = new Entry(
    {
      storeStrategy: ctx.strategy.name,
      taskId: req.taskId,
      taskMeta: req.taskMeta ?? {},
      contentLength: req.contentLength,
      totalPieces: planPieces(req.contentLength, req.pieceSize).totalPieces,
      peerId: req.peerId,
      pieces: new Map(),
      pieceMd5Sign: '',
      dataFilePath: storeDataPath,
      done: false,
      header: null,
      ext: {
        version: METADATA_VERSION,
        digest: req.digest,
        pieceDigest: ctx.pieceDigest,
        pieceSize: req.pieceSize,
        lastAccess: now,
        storeLink: 'self',
        ...(req.url ? { url: req.url } : {}),
      },
    },
    peerDir,
    'self',
    now,
  );
  e.writing = true;
  try {
    const loc = await ctx.strategy.locate(sctx);
    e.meta.dataFilePath = path.resolve(loc.dataFilePath);
    e.meta.storeStrategy = loc.storeStrategy;
    // Metadata first: a crash from here on leaves an entry recovery can find and clean (upstream
    // leaked the advance hidden file when it crashed before writing metadata).
    await writeMetadata(e.metaPath, e.meta);
    // Then a link to a data file born elsewhere, which outlives damage to the metadata: with it,
    // removal finds the file even when `data` is a hard link and the metadata cannot be read.
    if (e.meta.dataFilePath !== storeDataPath)
      await fsp.symlink(e.meta.dataFilePath, path.join(peerDir, DATA_FILE_LINK)).catch((err: unknown) => {
        throw new StorageError(
          `cannot link ${path.join(peerDir, DATA_FILE_LINK)}: ${(err as Error).message}`,
          peerDir,
          {
            cause: err,
          },
        );
      });
    e.storeLink = await ctx.strategy.create(sctx, loc);
    e.meta.ext.storeLink = e.storeLink;
  } catch (err) {
    await removeEntryFiles(ctx, e, 'create failed');
    throw err;
  }
  ctx.log('task %s registered (%s, data %s)', e.key, e.meta.storeStrategy, e.meta.dataFilePath);
  return ctx.table.adopt(e);
}

/**
 * Checks a begin-task request before anything is read or locked.
 * @throws InvalidArgumentError naming the bad field.
 */
export function checkBeginRequest(req: BeginTaskRequest): void {
  assertTaskIdName(req.taskId);
  if (!isPeerIdName(req.peerId))
    throw new InvalidArgumentError('peerId', `not a peer id (<ip>-<pid>-<uuid>): ${quote(req.peerId)}`);
  if (!Number.isSafeInteger(req.contentLength) || req.contentLength < 0)
    throw new InvalidArgumentError('contentLength', `expected a non-negative integer, got ${quote(req.contentLength)}`);
  if (!Number.isSafeInteger(req.pieceSize) || req.pieceSize <= 0)
    throw new InvalidArgumentError('pieceSize', `expected a positive integer, got ${quote(req.pieceSize)}`);
  if (req.digest !== undefined) assertDigest(req.digest);
  if (req.output !== undefined && (typeof req.output !== 'string' || req.output === ''))
    throw new InvalidArgumentError('output', 'expected a path');
}

/**
 * Under the task lock: the one listing of the task directory recovers it (garbage peers and stale
 * temp files removed), then the best interrupted entry is resumed, or a new one is created once the
 * declared size is known to fit. Returns the entry with its data file open for writing.
 *
 * @throws StorageQuotaError when the blob cannot fit; StorageError when the data file cannot be made or opened.
 */
export async function openEntry(
  ctx: IngestContext,
  req: BeginTaskRequest,
  store: { readonly dataPath: string },
): Promise<{ entry: Entry; fh: fsp.FileHandle; resumed: boolean }> {
  const { entries, garbage } = await readTask(ctx, req.taskId);
  for (const g of garbage) await removeGarbagePeer(ctx, g.peerDir);
  for (const e of entries) if (!e.meta.done && !e.writing) await removeTempFiles(e.peerDir);
  const resumed = await resume(ctx, req, entries);
  if (resumed) return { ...resumed, resumed: true };
  await assertRoom(req, ctx.strategy, store.dataPath);
  const entry = await create(ctx, req);
  try {
    return { entry, fh: await fsp.open(entry.meta.dataFilePath, 'r+'), resumed: false };
  } catch (err) {
    entry.writing = false;
    await removeEntryFiles(ctx, entry, 'cannot open data file');
    throw new StorageError(
      `cannot open data file ${entry.meta.dataFilePath}: ${(err as Error).message}`,
      entry.meta.dataFilePath,
      { cause: err },
    );
  }
}

/**
 * The declared size must fit where the data file is born (the store, or the output directory for
 * advance) and, when the output lives on another filesystem (a copy, not a link), there as well.
 */
async function assertRoom(req: BeginTaskRequest, strategy: StorageStrategy, dataPath: string): Promise<void> {
  const outDir = req.output === undefined ? undefined : path.dirname(path.resolve(req.output));
  const dataDir = outDir !== undefined && strategy.name === ADVANCE_STRATEGY ? outDir : dataPath;
  const dirs = [dataDir];
  if (outDir !== undefined && outDir !== dataDir) {
    const [a, b] = await Promise.all([availableBytes(dataDir), availableBytes(outDir)]);
    if (a && b && a.dev !== b.dev) dirs.push(outDir);
  }
  await assertFits(req.contentLength, dirs, `blob ${req.digest ?? req.taskId}`);
}
