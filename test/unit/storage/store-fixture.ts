// A real store in a temp dir with completed entries written through the public API, and the
// contexts the storage modules take, for the unit tests of those modules.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DigestIndex } from '../../../src/storage/digest-index.js';
import { EntryTable } from '../../../src/storage/entry.js';
import type { EntryFilesContext } from '../../../src/storage/entry-files.js';
import { resolveStorageOptions, type StorageOptions } from '../../../src/storage/options.js';
import { createPieceHasher } from '../../../src/storage/piece-digest.js';
import { pieceAt, planPieces } from '../../../src/core/piece-plan.js';
import { StorageManager, type TaskEntry } from '../../../src/storage/storage-manager.js';
import { StoreLayout } from '../../../src/storage/store-layout.js';
import { ReaderClaims } from '../../../src/storage/reader-claims.js';

export const PEER = '127.0.0.1-1-fixture';

/** A store with a dataPath in a temp dir, removed after the test. */
export async function makeStore(
  t: { after(fn: () => Promise<void> | void): void },
  options: Partial<StorageOptions> = {},
) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-unit-store-'));
  const dataPath = path.join(dir, 'store');
  const store = await StorageManager.open({ dataPath, ...options }, { gcTimer: false });
  t.after(async () => {
    await store.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, dataPath, store };
}

/**
 * Writes `bytes` as a completed task and returns its entry. With `output`, the task is begun for that
 * output (as the task manager begins it): advance puts its data beside it, and the store holds the
 * entry until the output exists.
 */
export async function completeTask(store: StorageManager, bytes: Buffer, n = 1, output?: string): Promise<TaskEntry> {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const taskId = createHash('sha256').update(`task-${n}-${digest}`).digest('hex');
  const plan = planPieces(bytes.length, 64 * 1024);
  const r = await store.beginTask({
    taskId,
    peerId: `127.0.0.1-1-p${n}`,
    digest,
    contentLength: bytes.length,
    pieceSize: plan.pieceSize,
    output,
  });
  if ('reuse' in r) return r.reuse;
  for (let num = 0; num < plan.totalPieces; num++) {
    const { range } = pieceAt(plan, num);
    const piece = bytes.subarray(range.start, range.start + range.length);
    await r.writer.write(piece, range.start);
    const h = createPieceHasher(store.options.pieceDigest);
    h.update(piece);
    r.writer.recordPiece({ num, range, digest: h.digest() });
  }
  return r.writer.complete({ digest });
}

/** The contexts of the storage modules, over a store directory (a fresh table: nothing pinned). */
export function filesContext(dataPath: string): EntryFilesContext {
  return {
    layout: new StoreLayout(dataPath),
    index: new DigestIndex(dataPath),
    table: new EntryTable(),
    log: () => {},
    claims: new ReaderClaims(path.join(dataPath, '.claims'), 60_000),
  };
}

export function resolved(dataPath: string, options: Partial<StorageOptions> = {}) {
  return resolveStorageOptions({ dataPath, ...options }).options;
}
