/**
 * The per-task `metadata` file: Dragonfly's JSON (keys exactly as its Go daemon writes them) plus an
 * `orasfly` object of our own. Dragonfly ignores unknown keys, so a Dragonfly daemon can still read it.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import type { ByteRange } from '../core/types.js';
import { StorageError } from '../core/errors.js';
import { writeFileAtomic } from './fs-util.js';
import { isPieceDigest, splitPieceDigest } from './piece-digest.js';
import type { PieceDigestAlgorithm } from './options.js';
import type { StoreLink } from './strategies/storage-strategy.js';

/** Version of the `orasfly` extension object. */
export const METADATA_VERSION = 1;

/** One verified piece. */
export interface PieceRecord {
  /** 0-based piece number. */
  num: number;
  /** Byte span of the piece in the blob. */
  range: ByteRange;
  /** `'crc32:xxxxxxxx'` or `'md5:<hex>'` of the piece bytes. */
  digest: string;
  /** Nanoseconds spent writing it (Dragonfly's `cost`). */
  cost?: number | undefined;
}

/** The stat fingerprint recorded at completion, compared before every reuse. */
export interface Fingerprint {
  ino: number;
  size: number;
  mtimeMs: number;
}

/** Decoded metadata of one task store entry. */
export interface TaskMetadata {
  storeStrategy: string;
  taskId: string;
  taskMeta: Record<string, unknown>;
  contentLength: number;
  totalPieces: number;
  peerId: string;
  pieces: Map<number, PieceRecord>;
  pieceMd5Sign: string;
  dataFilePath: string;
  done: boolean;
  header: unknown;
  /** Our extension (absent in metadata written by Dragonfly itself). */
  ext: {
    version: number;
    /** Blob digest (`sha256:<hex>`), known at completion (or from the request). */
    digest?: string | undefined;
    pieceDigest: PieceDigestAlgorithm;
    pieceSize: number;
    /** ms since epoch. Refreshes are recorded as the metadata file's mtime (cheap, no rewrite). */
    lastAccess: number;
    completedAt?: number | undefined;
    fingerprint?: Fingerprint | undefined;
    storeLink: StoreLink;
    /**
     * The boot in which the data was written and known good. Data is not fsync'ed at completion;
     * an entry from another boot is re-hashed once before it is reused (see StorageManager).
     */
    bootId?: string | undefined;
    /** The reference the entry was pulled for (credentials stripped), for `cache list` and `cache clean REF`. */
    url?: string | undefined;
  };
}

interface DfPiece {
  num?: number;
  md5?: string;
  offset?: number;
  range: { Start: number; Length: number };
  style?: number;
  cost?: number;
  digest?: string;
}

/** Serialises metadata exactly as Dragonfly does (zero-valued piece fields omitted, `Start`/`Length`). */
export function encodeMetadata(m: TaskMetadata): string {
  const pieces: Record<string, DfPiece> = {};
  for (const p of [...m.pieces.values()].sort((a, b) => a.num - b.num)) {
    // Key order follows Go's struct order (num, md5, offset, range, style, cost); zero values omitted.
    const out = {} as DfPiece;
    if (p.num !== 0) out.num = p.num;
    const { alg, hex } = splitPieceDigest(p.digest);
    if (alg === 'md5') out.md5 = hex;
    if (p.range.start !== 0) out.offset = p.range.start;
    out.range = { Start: p.range.start, Length: p.range.length };
    if (p.cost) out.cost = Math.round(p.cost);
    out.digest = p.digest;
    pieces[String(p.num)] = out;
  }
  return JSON.stringify({
    storeStrategy: m.storeStrategy,
    taskID: m.taskId,
    taskMeta: m.taskMeta,
    contentLength: m.contentLength,
    totalPieces: m.totalPieces,
    peerID: m.peerId,
    pieces,
    pieceMd5Sign: m.pieceMd5Sign,
    dataFilePath: m.dataFilePath,
    done: m.done,
    header: m.header ?? null,
    orasfly: m.ext,
  });
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/**
 * Parses metadata. Metadata written by Dragonfly (no `orasfly` key, md5 pieces) is accepted.
 *
 * @throws StorageError (`ERR_ORASFLY_STORAGE`) naming `file` when the JSON or its shape is wrong.
 */
export function decodeMetadata(text: string, file: string): TaskMetadata {
  const bad = (why: string): StorageError => new StorageError(`corrupt metadata ${file}: ${why}`, file);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new StorageError(`corrupt metadata ${file}: ${(e as Error).message}`, file, { cause: e });
  }
  if (typeof j !== 'object' || j === null) throw bad('not an object');
  const { storeStrategy, taskID, peerID, contentLength, totalPieces, dataFilePath, done } = j;
  if (typeof storeStrategy !== 'string' || typeof taskID !== 'string' || typeof peerID !== 'string')
    throw bad('missing storeStrategy/taskID/peerID');
  if (!isInt(contentLength) || !isInt(totalPieces) || typeof dataFilePath !== 'string' || typeof done !== 'boolean')
    throw bad('missing contentLength/totalPieces/dataFilePath/done');
  const ext = (typeof j.orasfly === 'object' && j.orasfly !== null ? j.orasfly : {}) as Partial<TaskMetadata['ext']>;
  const pieceDigest: PieceDigestAlgorithm = ext.pieceDigest === 'crc32' ? 'crc32' : 'md5';
  const pieces = new Map<number, PieceRecord>();
  const raw = (typeof j.pieces === 'object' && j.pieces !== null ? j.pieces : {}) as Record<string, DfPiece>;
  for (const [k, p] of Object.entries(raw)) {
    const num = Number(k);
    if (!isInt(num) || num < 0 || typeof p !== 'object' || p === null || typeof p.range !== 'object')
      throw bad(`bad piece ${k}`);
    const start = p.range.Start ?? 0;
    const length = p.range.Length ?? 0;
    const digest = p.digest ?? (p.md5 ? `md5:${p.md5}` : undefined);
    if (!isInt(start) || !isInt(length) || !isPieceDigest(digest)) throw bad(`bad piece ${k}`);
    pieces.set(
      num,
      typeof p.cost === 'number'
        ? { num, range: { start, length }, digest, cost: p.cost }
        : { num, range: { start, length }, digest },
    );
  }
  const fp = ext.fingerprint;
  return {
    storeStrategy,
    taskId: taskID,
    taskMeta: (typeof j.taskMeta === 'object' && j.taskMeta !== null ? j.taskMeta : {}) as Record<string, unknown>,
    contentLength,
    totalPieces,
    peerId: peerID,
    pieces,
    pieceMd5Sign: typeof j.pieceMd5Sign === 'string' ? j.pieceMd5Sign : '',
    dataFilePath,
    done,
    header: j.header ?? null,
    ext: {
      version: isInt(ext.version) ? ext.version : 0,
      digest: typeof ext.digest === 'string' ? ext.digest : undefined,
      pieceDigest,
      pieceSize: isInt(ext.pieceSize) ? ext.pieceSize : 0,
      lastAccess: typeof ext.lastAccess === 'number' ? ext.lastAccess : 0,
      completedAt: typeof ext.completedAt === 'number' ? ext.completedAt : undefined,
      fingerprint:
        fp && isInt(fp.ino) && isInt(fp.size) && typeof fp.mtimeMs === 'number'
          ? { ino: fp.ino, size: fp.size, mtimeMs: fp.mtimeMs }
          : undefined,
      storeLink: ext.storeLink === 'hardlink' || ext.storeLink === 'symlink' ? ext.storeLink : 'self',
      ...(typeof ext.bootId === 'string' ? { bootId: ext.bootId } : {}),
      ...(typeof ext.url === 'string' ? { url: ext.url } : {}),
    },
  };
}

/** Writes metadata atomically (temp file, fsync, rename). */
export async function writeMetadata(file: string, m: TaskMetadata): Promise<void> {
  // mtime = last access, so later refreshes can be recorded with utimes() alone.
  await writeFileAtomic(file, encodeMetadata(m), { mtimeMs: m.ext.lastAccess });
}

/**
 * Reads and parses metadata; `undefined` when the file does not exist.
 *
 * @throws StorageError when it exists but is unreadable or corrupt.
 */
export async function readMetadata(file: string): Promise<TaskMetadata | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw new StorageError(`cannot read metadata ${file}: ${(e as Error).message}`, file, { cause: e });
  }
  return decodeMetadata(text, file);
}
