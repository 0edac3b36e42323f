import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StoreLayout } from '../../../src/storage/store-layout.js';
import { outsideDataFiles, unreadableData, unreadableEntry } from '../../../src/storage/unreadable-entry.js';
import { completeTask, makeStore } from './store-fixture.js';

test('an unreadable entry is named by its directories, and measured through its data file', async (t) => {
  const { dir, dataPath, store } = await makeStore(t);
  const e = await completeTask(store, Buffer.alloc(70_000, 1));
  await store.close();
  const peerDir = path.join(dataPath, e.taskId, e.peerId);
  truncateSync(path.join(peerDir, 'metadata'), 10);
  const u = unreadableEntry(peerDir, 'corrupt metadata');
  assert.deepEqual(u, {
    taskId: e.taskId,
    peerId: e.peerId,
    key: `${e.taskId}/${e.peerId}`,
    peerDir,
    reason: 'corrupt metadata',
  });
  const layout = new StoreLayout(dataPath);
  const d = await unreadableData(layout, peerDir);
  assert.deepEqual([d.size, d.nlink, d.exclusive, d.dataFilePath], [70_000, 1, true, path.join(peerDir, 'data')]);
  assert.ok(d.lastAccess > 0);
  // An output sharing the inode: deleting the entry would free nothing.
  linkSync(path.join(peerDir, 'data'), path.join(dir, 'out.sif'));
  assert.equal((await unreadableData(layout, peerDir)).exclusive, false);
});

test("a symlinked data is followed only to this peer's advance hidden file, never to a user's file", async (t) => {
  const { dir, dataPath } = await makeStore(t);
  const layout = new StoreLayout(dataPath);
  const peerId = '127.0.0.1-1-abc';
  const peerDir = path.join(dataPath, 'a'.repeat(64), peerId);
  mkdirSync(peerDir, { recursive: true });
  const hidden = path.join(dir, `.img.sif.dfget.cache.${peerId}`);
  writeFileSync(hidden, 'data');
  symlinkSync(hidden, path.join(peerDir, 'data'));
  assert.deepEqual(await outsideDataFiles(layout, peerDir), [hidden]);
  const d = await unreadableData(layout, peerDir);
  assert.deepEqual([d.size, d.exclusive, d.dataFilePath], [4, true, hidden]);
  const other = path.join(dataPath, 'b'.repeat(64), peerId);
  mkdirSync(other, { recursive: true });
  writeFileSync(path.join(dir, 'notes.txt'), 'mine');
  symlinkSync(path.join(dir, 'notes.txt'), path.join(other, 'data'));
  assert.deepEqual(await outsideDataFiles(layout, other), []);
  const none = await unreadableData(layout, path.join(dataPath, 'c'.repeat(64), peerId));
  assert.deepEqual([none.size, none.nlink, none.exclusive], [0, 0, true]);
});
