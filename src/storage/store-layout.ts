/**
 * What the task store may call its own: the versioned marker that makes a directory a store, the
 * shapes of the names it creates (task ids, peer ids), and removal that only ever deletes files of
 * those shapes and never follows a symbolic link. Everything the store deletes goes through here.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, StorageError } from '../core/errors.js';
import { quote } from '../core/describe.js';
import { errno, TMP_MARK, unlinkQuiet, writeFileAtomic } from './fs-util.js';
import { HIDDEN_MARK } from './strategies/advance.js';

/** Name of the marker file at the store's root. */
export const STORE_MARKER = '.orasfly-store';
/** Layout version written into the marker; a store of a newer layout is refused, never rewritten. */
export const STORE_LAYOUT_VERSION = 1;

/** A Dragonfly task id: sha256 hex (idgen's `TaskIDV1`). */
export const TASK_ID_RE = /^[0-9a-f]{64}$/;
/** A Dragonfly peer id: `<ip>-<pid>-<uuid>` (IPv4 or IPv6 address, decimal pid, uuid-like tail). */
export const PEER_ID_RE = /^[0-9A-Fa-f.:]{3,45}-\d{1,10}-[0-9A-Za-z-]{1,100}$/;

/** Whether `s` is shaped like a task id (the only directory names the store creates at its root). */
export function isTaskIdName(s: unknown): boolean {
  return typeof s === 'string' && TASK_ID_RE.test(s);
}

/**
 * Checks a task id given as input.
 * @throws InvalidArgumentError (field `taskId`) for anything {@link isTaskIdName} refuses.
 */
export function assertTaskIdName(s: unknown): asserts s is string {
  if (!isTaskIdName(s)) throw new InvalidArgumentError('taskId', `not a task id (64 lower-case hex): ${quote(s)}`);
}

/** Whether `s` is shaped like a peer id (the only directory names the store creates in a task dir). */
export function isPeerIdName(s: unknown): boolean {
  return typeof s === 'string' && PEER_ID_RE.test(s);
}

/** Names the store creates at its root besides task directories. */
const ROOT_NAMES = new Set([STORE_MARKER, '.locks', '.index', '.gc', '.claims', '.registry']);
/**
 * A symbolic link in a peer directory to the entry's data file, made when that file is born outside
 * the directory (advance), before it exists. The metadata names the file too, but when the metadata
 * cannot be read and `data` is a hard link (not a symlink), this link is the only way to find it.
 */
export const DATA_FILE_LINK = 'data-file';
/** Files the store creates inside a peer directory. */
const PEER_FILES = new Set(['data', 'metadata', DATA_FILE_LINK]);

function isStoreRootName(n: string): boolean {
  return ROOT_NAMES.has(n) || isTaskIdName(n) || n.startsWith(TMP_MARK);
}

/**
 * Makes `root` a store, or checks that it is one. A missing or empty directory is created (0700)
 * and marked; a directory with the marker is accepted if its layout version is known; a directory
 * holding only store-shaped names (a store of orasfly 0.1.0, which had no marker) is adopted and
 * marked. Anything else — `--datadir .`, a home directory, a shared project directory — is refused,
 * so the store never treats a user's files as its own garbage.
 *
 * @throws StorageError (`ERR_ORASFLY_STORAGE`) naming the directory and what it holds.
 */
export async function claimStoreRoot(root: string): Promise<'created' | 'existing' | 'adopted'> {
  try {
    await fsp.mkdir(root, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new StorageError(`cannot create data path ${root}: ${(e as Error).message}`, root, { cause: e });
  }
  const st = await fsp.lstat(root).catch((e: unknown) => {
    throw new StorageError(`cannot read data path ${root}: ${(e as Error).message}`, root, { cause: e });
  });
  // A symlinked root is fine (users point dataPath at a bigger disk); its target must be a directory.
  if (
    !st.isDirectory() &&
    !(
      st.isSymbolicLink() &&
      (await fsp.stat(root).then(
        (s) => s.isDirectory(),
        () => false,
      ))
    )
  ) {
    throw new StorageError(`data path ${root} is not a directory`, root);
  }
  const marker = path.join(root, STORE_MARKER);
  const existing = await readMarker(marker);
  if (existing !== undefined) {
    if (existing > STORE_LAYOUT_VERSION) {
      throw new StorageError(
        `data path ${root} holds a store of layout version ${existing}; this orasfly understands ` +
          `version ${STORE_LAYOUT_VERSION} (upgrade orasfly or use another directory)`,
        root,
      );
    }
    return 'existing';
  }
  let names: string[];
  try {
    names = await fsp.readdir(root);
  } catch (e) {
    throw new StorageError(`cannot read data path ${root}: ${(e as Error).message}`, root, { cause: e });
  }
  const foreign = names.filter((n) => !isStoreRootName(n));
  if (foreign.length > 0) {
    const shown = foreign
      .slice(0, 3)
      .map((n) => JSON.stringify(n.slice(0, 64)))
      .join(', ');
    const more = foreign.length > 3 ? ` and ${foreign.length - 3} more` : '';
    throw new StorageError(
      `refusing to use ${root} as the task store: it is not empty (${shown}${more}) and has no ${STORE_MARKER} marker, so it was not created by orasfly. ` +
        `Point --datadir / storage.dataPath at a new or empty directory (e.g. ${path.join(root, 'orasfly')})`,
      root,
    );
  }
  try {
    await writeFileAtomic(marker, `${JSON.stringify({ layout: 'orasfly-store', version: STORE_LAYOUT_VERSION })}\n`, {
      fsync: false,
    });
  } catch (e) {
    // Another process may have marked it meanwhile; that is as good as our own marker.
    if ((await readMarker(marker)) === undefined) throw e;
    return 'existing';
  }
  return names.length === 0 ? 'created' : 'adopted';
}

/** The marker's layout version, or `undefined` when there is no (readable, well-formed) marker. */
async function readMarker(file: string): Promise<number | undefined> {
  let text: string;
  try {
    const fh = await fsp.open(file, 'r');
    try {
      const buf = Buffer.alloc(4096);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (errno(e) === 'ENOENT') return undefined;
    throw new StorageError(`cannot read the store marker ${file}: ${(e as Error).message}`, file, { cause: e });
  }
  try {
    const j = JSON.parse(text) as { layout?: unknown; version?: unknown };
    if (j.layout === 'orasfly-store' && Number.isSafeInteger(j.version) && (j.version as number) > 0)
      return j.version as number;
  } catch {
    /* fall through */
  }
  throw new StorageError(
    `the store marker ${file} is not an orasfly marker; refusing to use its directory as a task store`,
    file,
  );
}

/** Whether `p` is a real directory (not a symbolic link to one). */
export async function isRealDirectory(p: string): Promise<boolean> {
  const st = await fsp.lstat(p).catch(() => undefined);
  return st?.isDirectory() === true;
}

/**
 * Removes a peer directory the store created: only `data`, `metadata`, `data-file` and our temp
 * files are unlinked (links themselves, never their targets), then the directory if it is empty.
 * Anything else found there is left in place, and so is the directory. A symbolic link in place of
 * the directory is not followed.
 *
 * @returns whether the directory is gone.
 */
export async function removePeerDir(peerDir: string): Promise<boolean> {
  if (!isPeerIdName(path.basename(peerDir))) return false;
  const st = await fsp.lstat(peerDir).catch(() => undefined);
  if (!st) return true;
  if (!st.isDirectory()) return false;
  for (const n of await fsp.readdir(peerDir).catch(() => [] as string[])) {
    if (PEER_FILES.has(n) || n.startsWith(TMP_MARK)) await unlinkQuiet(path.join(peerDir, n)).catch(() => {});
  }
  try {
    await fsp.rmdir(peerDir);
    return true;
  } catch (e) {
    return errno(e) === 'ENOENT';
  }
}

/** Every path of one store, and what of it the store may delete. */
export class StoreLayout {
  /** Absolute store root. */
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  taskDir(taskId: string): string {
    return path.join(this.root, taskId);
  }

  peerDir(taskId: string, peerId: string): string {
    return path.join(this.root, taskId, peerId);
  }

  /** The cross-process lock of a task. */
  lockPath(taskId: string): string {
    return path.join(this.root, '.locks', `${taskId}.lock`);
  }

  get locksDir(): string {
    return path.join(this.root, '.locks');
  }

  /** Reader claims of completed entries (`reader-claims.ts`). */
  get claimsDir(): string {
    return path.join(this.root, '.claims');
  }

  /** GC coordination across processes: the time of the last round and the lock of the running one. */
  get gcStampPath(): string {
    return path.join(this.root, '.gc', 'stamp');
  }

  get gcLockPath(): string {
    return path.join(this.root, '.gc', 'round.lock');
  }

  /**
   * Whether a data file may be deleted as part of an entry. Inside the root only the entry's own
   * `data`; outside it only a hidden advance data file of exactly this peer's name shape, so tampered
   * metadata cannot point the store at a user's file.
   */
  ownsDataFile(p: string, peerId: string, storeDataPath?: string): boolean {
    const rel = path.relative(this.root, p);
    if (!rel.startsWith('..') && !path.isAbsolute(rel))
      return storeDataPath !== undefined && path.resolve(p) === storeDataPath;
    const base = path.basename(p);
    return (
      base.startsWith('.') && (base.endsWith(`${HIDDEN_MARK}.${peerId}`) || /^\.[0-9a-f]{64}\.dfget\.cache$/.test(base))
    );
  }
}
