import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { ClosedError } from '../../../src/core/errors.js';
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
