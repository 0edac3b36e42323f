// Completion does not fsync; an entry from another boot is re-hashed once before reuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { StorageManager, bootId } from '../../../src/storage/storage-manager.js';
import { digestOf, download, taskIdOf, tmpDir } from './helpers.js';

async function stampOtherBoot(metaPath: string): Promise<void> {
  const m = JSON.parse(await fsp.readFile(metaPath, 'utf8'));
  m.orasfly.bootId = 'a-previous-boot';
  await fsp.writeFile(metaPath, JSON.stringify(m));
}

test('completed entries carry this boot id; after a "reboot" good data is re-verified once and reused', async (t) => {
  const dataPath = path.join(tmpDir(t), 'data');
  const bytes = randomBytes(300_000);
  const taskId = taskIdOf('oras://r/boot:ok');
  let store = await StorageManager.open({ dataPath, gcInterval: 0, multiplex: true });
  const entry = await download(store, bytes, { taskId });
  const metaPath = path.join(dataPath, taskId, entry.peerId, 'metadata');
  assert.equal(JSON.parse(await fsp.readFile(metaPath, 'utf8')).orasfly.bootId, bootId());
  await store.close();
  await stampOtherBoot(metaPath);
  store = await StorageManager.open({ dataPath, gcInterval: 0, multiplex: true });
  t.after(() => store.close());
  const hit = await store.findCompleted({ taskId });
  assert.ok(hit, 'good data is reused after re-verification');
  assert.equal(JSON.parse(await fsp.readFile(metaPath, 'utf8')).orasfly.bootId, bootId(), 'stamped with this boot');
});

test('after a "reboot", data that lost writes (same size, same mtime) is detected and not reused', async (t) => {
  const dataPath = path.join(tmpDir(t), 'data');
  const bytes = randomBytes(300_000);
  const taskId = taskIdOf('oras://r/boot:lost');
  let store = await StorageManager.open({ dataPath, gcInterval: 0, multiplex: true });
  const entry = await download(store, bytes, { taskId });
  await store.close();
  // What a power loss can leave: zeros where page-cache data never reached the disk, inode, size and mtime unchanged.
  const st = await fsp.stat(entry.dataFilePath);
  const fh = await fsp.open(entry.dataFilePath, 'r+');
  await fh.write(Buffer.alloc(4096), 0, 4096, 8192);
  await fh.close();
  await fsp.utimes(entry.dataFilePath, st.atime, st.mtime);
  const metaPath = path.join(dataPath, taskId, entry.peerId, 'metadata');
  await stampOtherBoot(metaPath);
  store = await StorageManager.open({ dataPath, gcInterval: 0, multiplex: true });
  t.after(() => store.close());
  assert.equal(await store.findCompleted({ taskId }), undefined);
  assert.equal(await store.findCompleted({ digest: digestOf(bytes) }), undefined);
  await assert.rejects(fsp.access(metaPath), 'the bad entry was dropped');
});
