import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
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
  // Beside a `data` that is a file, `data-file` is followed only to that same inode.
  const third = path.join(dataPath, 'd'.repeat(64), peerId);
  mkdirSync(third, { recursive: true });
  writeFileSync(path.join(third, 'data'), 'data');
  const lookalike = path.join(dir, `.other.sif.dfget.cache.${peerId}`);
  writeFileSync(lookalike, 'not the same file');
  symlinkSync(lookalike, path.join(third, 'data-file'));
  assert.deepEqual(await outsideDataFiles(layout, third), []);
  const none = await unreadableData(layout, path.join(dataPath, 'c'.repeat(64), peerId));
  assert.deepEqual([none.size, none.nlink, none.exclusive], [0, 0, true]);
});

for (const op of ['gc', 'verify', 'clean'] as const) {
  test(`advance on one filesystem: ${op} of an entry with unreadable metadata deletes its hidden file beside the output, never the output`, async (t) => {
    const { dir, dataPath, store } = await makeStore(t, { strategy: 'io.d7y.storage.v2.advance' });
    const bytes = Buffer.alloc(90_000, 7);
    const output = path.join(dir, 'out', 'img.sif');
    const e = await completeTask(store, bytes, 1, output);
    await store.materialize(e, output);
    const peerDir = path.join(dataPath, e.taskId, e.peerId);
    assert.equal(e.dataFilePath, path.join(dir, 'out', `.img.sif.dfget.cache.${e.peerId}`));
    assert.equal(lstatSync(path.join(peerDir, 'data')).isSymbolicLink(), false, 'data is a hard link of it here');
    truncateSync(path.join(peerDir, 'metadata'), 30);
    const key = `${e.taskId}/${e.peerId}`;
    if (op === 'gc') assert.deepEqual((await store.gc()).reclaimed, [key]);
    else if (op === 'verify')
      assert.deepEqual(
        (await store.verify()).unreadable.map((u) => u.key),
        [key],
      );
    else assert.deepEqual((await store.clean()).removed, [key]);
    assert.equal(existsSync(peerDir), false);
    assert.equal(existsSync(e.dataFilePath), false, 'the hidden file is gone');
    assert.deepEqual(readdirSync(path.join(dir, 'out')), ['img.sif']);
    assert.deepEqual(readFileSync(output), bytes, 'the output is intact');
  });
}
