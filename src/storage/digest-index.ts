/**
 * The on-disk digest index `<dataPath>/.index/<alg>/<hex>` → `{taskId, peerId}` of a completed
 * entry holding that blob (cacache's entry index, reduced to one pointer per digest). Written last
 * at completion, so it only ever points at complete metadata; a stale pointer is harmless (the
 * entry is validated before use) and is removed by GC or when its entry goes.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { assertDigest, splitDigest } from '../core/digest.js';
import { TMP_MARK, unlinkQuiet, writeFileAtomic } from './fs-util.js';
import { isPeerIdName, isTaskIdName } from './store-layout.js';

/** What an index file points at. */
export interface IndexRef {
  taskId: string;
  peerId: string;
}

/** The digest index of one store. */
export class DigestIndex {
  readonly root: string;

  constructor(dataPath: string) {
    this.root = path.join(dataPath, '.index');
  }

  /**
   * The index file of `digest`.
   * @throws InvalidArgumentError for a malformed digest.
   */
  pathOf(digest: string): string {
    assertDigest(digest);
    const d = splitDigest(digest)!;
    return path.join(this.root, d.algorithm, d.hex);
  }

  /** Reads a pointer; `undefined` when absent or malformed. */
  async read(digest: string): Promise<IndexRef | undefined> {
    return readRef(this.pathOf(digest));
  }

  /** Points `digest` at an entry (atomic replace). */
  async write(digest: string, ref: IndexRef): Promise<void> {
    const f = this.pathOf(digest);
    await fsp.mkdir(path.dirname(f), { recursive: true });
    await writeFileAtomic(f, JSON.stringify(ref), { fsync: false });
  }

  /** Removes the pointer of `digest` if it points at `ref`. */
  async removeIfPointsAt(digest: string, ref: IndexRef): Promise<void> {
    const f = this.pathOf(digest);
    const cur = await this.readFile(f);
    if (cur.ref && cur.ref.taskId === ref.taskId && cur.ref.peerId === ref.peerId) await this.unlinkIfSame(f, cur.ino);
  }

  /**
   * Unlinks an index file only if it is still the inode `ino` that was read: another process's
   * completion renames a new pointer over it, which must survive a removal decided on the old one.
   */
  async unlinkIfSame(file: string, ino: number | undefined): Promise<void> {
    if (ino === undefined) return;
    const st = await fsp.lstat(file).catch(() => undefined);
    if (st?.ino === ino) await unlinkQuiet(file).catch(() => {});
  }

  /** Every file of the index (for GC): pointers by digest, and our temp files (`tmp: true`). */
  async files(): Promise<{ file: string; digest: string; tmp: boolean }[]> {
    const out: { file: string; digest: string; tmp: boolean }[] = [];
    for (const alg of await fsp.readdir(this.root).catch(() => [] as string[])) {
      if (!/^[a-z0-9]+$/.test(alg)) continue;
      const dir = path.join(this.root, alg);
      for (const hex of await fsp.readdir(dir).catch(() => [] as string[])) {
        const file = path.join(dir, hex);
        if (hex.startsWith(TMP_MARK)) out.push({ file, digest: '', tmp: true });
        else if (/^[a-f0-9]{32,128}$/.test(hex)) out.push({ file, digest: `${alg}:${hex}`, tmp: false });
      }
    }
    return out;
  }

  /**
   * Reads the pointer in an index file (from {@link DigestIndex.files}), and the inode it was read
   * from (`undefined` when the file could not be opened); `ref` is `undefined` for a corrupt pointer.
   */
  async readFile(file: string): Promise<{ ref: IndexRef | undefined; ino: number | undefined }> {
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(file, 'r');
      const ino = (await fh.stat()).ino;
      return { ref: parseRef(await fh.readFile('utf8')), ino };
    } catch {
      return { ref: undefined, ino: undefined };
    } finally {
      await fh?.close().catch(() => {});
    }
  }
}

async function readRef(f: string): Promise<IndexRef | undefined> {
  return parseRef(await fsp.readFile(f, 'utf8').catch(() => ''));
}

function parseRef(text: string): IndexRef | undefined {
  try {
    const j = JSON.parse(text) as { taskId?: unknown; peerId?: unknown };
    return isTaskIdName(j.taskId) && isPeerIdName(j.peerId)
      ? { taskId: j.taskId as string, peerId: j.peerId as string }
      : undefined;
  } catch {
    return undefined;
  }
}
