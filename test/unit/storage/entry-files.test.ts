import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readPeer, readTask, removeEntryFiles, taskNames } from '../../../src/storage/entry-files.js';
import { ReaderClaims } from '../../../src/storage/reader-claims.js';
import { completeTask, filesContext, makeStore } from './store-fixture.js';

test('a completed task is read back as an entry; a peer directory without metadata is garbage; nothing is deleted by reading', async (t) => {
  const { dataPath, store } = await makeStore(t);
  const e = await completeTask(store, Buffer.alloc(100_000, 1));
  const ctx = filesContext(dataPath);
  assert.deepEqual(await taskNames(ctx), [e.taskId]);
  const r = await readPeer(ctx, e.taskId, e.peerId);
  assert.equal(r.kind, 'entry');
  assert.equal(r.kind === 'entry' && r.entry.meta.done, true);
  const stray = path.join(dataPath, e.taskId, '127.0.0.1-9-stray');
  mkdirSync(stray);
  writeFileSync(path.join(stray, 'data'), 'half');
  const task = await readTask(ctx, e.taskId);
  assert.equal(task.entries.length, 1);
  assert.deepEqual(
    task.garbage.map((g) => g.peerDir),
    [stray],
  );
  assert.ok(existsSync(stray));
  assert.equal((await readPeer(ctx, e.taskId, '127.0.0.1-9-none')).kind, 'absent');
});

/** A completed task of `fill` bytes, read back from disk as an entry. */
async function completedEntry(t: Parameters<typeof makeStore>[0], fill: number) {
  const { dataPath, store } = await makeStore(t);
  const e = await completeTask(store, Buffer.alloc(10_000, fill));
  const ctx = filesContext(dataPath);
  const r = await readPeer(ctx, e.taskId, e.peerId);
  if (r.kind !== 'entry') throw new Error(`read back as ${r.kind}`);
  return { dataPath, e, ctx, entry: r.entry };
}

test("removeEntryFiles removes the entry's files and its directory", async (t) => {
  const { dataPath, e, ctx, entry } = await completedEntry(t, 2);
  assert.equal(await removeEntryFiles(ctx, entry, 'test'), true);
  assert.equal(existsSync(path.join(dataPath, e.taskId, e.peerId)), false);
});

test('an entry read as partial that a reader claims now (it completed since) is only marked, not removed', async (t) => {
  const { dataPath, e, ctx, entry } = await completedEntry(t, 3);
  // As a remover that read it before it completed saw it.
  entry.meta.done = false;
  const claim = await new ReaderClaims(path.join(dataPath, '.claims'), 60_000).claim(e.taskId, e.peerId);
  try {
    assert.equal(await removeEntryFiles(ctx, entry, 'test'), false);
    assert.equal(existsSync(path.join(dataPath, e.taskId, e.peerId, 'data')), true);
    assert.equal(entry.marked, true);
  } finally {
    await claim.release();
  }
});
