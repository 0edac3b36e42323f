import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ClosedError } from '../../../src/core/errors.js';
import { StorageManager } from '../../../src/storage/storage-manager.js';
import { completeTask, makeStore } from './store-fixture.js';

test('a completed task is found by task id and by digest, and an output is made by hard link', async (t) => {
  const { store, dir } = await makeStore(t);
  const e = await completeTask(store, Buffer.alloc(70_000, 8));
  assert.equal((await store.findCompleted({ taskId: e.taskId }))?.peerId, e.peerId);
  assert.equal((await store.findCompleted({ digest: e.digest! }))?.taskId, e.taskId);
  const out = path.join(dir, 'out.sif');
  const m = await store.materialize(e, out);
  assert.equal(m.method, 'link');
  assert.equal(statSync(out).ino, statSync(e.dataFilePath).ino);
});

test('the same content under another task id is reused by digest (multiplex), not written again', async (t) => {
  const { store } = await makeStore(t);
  const e = await completeTask(store, Buffer.alloc(30_000, 9), 1);
  const r = await store.beginTask({
    taskId: '9'.repeat(64),
    peerId: '127.0.0.1-1-x',
    digest: e.digest,
    contentLength: 30_000,
    pieceSize: 64 * 1024,
  });
  assert.ok('reuse' in r);
});

test('after close(), every call is a ClosedError', async (t) => {
  const { store } = await makeStore(t);
  await store.close();
  await assert.rejects(store.findCompleted({ taskId: 'a'.repeat(64) }), ClosedError);
});

test('an entry just completed is held until its output exists: another store’s quota GC leaves it alone, and takes it after', async (t) => {
  const { store, dir, dataPath } = await makeStore(t);
  // A second manager over the same directory stands for another process: its GC sees only what is
  // on disk (the claim), not this process's in-memory pins.
  const other = await StorageManager.open({ dataPath, diskGCThreshold: '1Ki' }, { gcTimer: false });
  t.after(() => other.close());
  const out = path.join(dir, 'held.sif');
  const e = await completeTask(store, Buffer.alloc(70_000, 4), 1, out);
  const during = await other.gc();
  assert.deepEqual(during.reclaimed, [], 'claimed between completion and output');
  assert.ok(existsSync(e.dataFilePath));
  await store.materialize(e, out);
  assert.equal(statSync(out).ino, statSync(e.dataFilePath).ino);
  // The output exists: the hold is gone, and the entry is as collectable as any other.
  const after = await other.gc();
  assert.equal(after.reclaimed.length, 1);
  assert.ok(readFileSync(out).equals(Buffer.alloc(70_000, 4)), 'the output keeps its bytes');
});

test('a reader claim makes another store’s clean skip the entry; released, the entry goes', async (t) => {
  const { store, dataPath } = await makeStore(t);
  const other = await StorageManager.open({ dataPath }, { gcTimer: false });
  t.after(() => other.close());
  const e = await completeTask(store, Buffer.alloc(20_000, 6));
  const pin = await store.pin(e);
  const skipped = await other.clean([]);
  assert.equal(existsSync(e.dataFilePath), true, `in use: ${JSON.stringify(skipped)}`);
  await pin.release();
  await other.clean([]);
  assert.equal(existsSync(e.dataFilePath), false);
});

test('registryCache keeps its records under <dataPath>/.registry/: the store reopens with them, GC and clean leave them', async (t) => {
  const { store, dataPath } = await makeStore(t);
  assert.equal(store.registryCache, store.registryCache, 'one instance per store');
  const bytes = Buffer.from('{"schemaVersion":2}');
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await store.registryCache.putManifest(digest, { bytes, mediaType: 'm' });
  await store.registryCache.putTag('h/r:t', digest);
  assert.ok(existsSync(path.join(dataPath, '.registry', 'manifests', 'sha256', digest.slice(7))));
  await completeTask(store, Buffer.alloc(10_000, 3));
  await store.gc();
  await store.clean();
  await store.close();
  // Reopened (another process, later): the records are still there.
  const again = await StorageManager.open({ dataPath }, { gcTimer: false });
  t.after(() => again.close());
  assert.equal((await again.registryCache.tag('h/r:t'))?.digest, digest);
  assert.ok(await again.registryCache.manifest(digest));
});
