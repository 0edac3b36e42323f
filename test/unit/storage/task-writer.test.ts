import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ClosedError } from '../../../src/core/errors.js';
import { makeStore } from './store-fixture.js';

const bytes = Buffer.alloc(500, 7);
const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const req = { taskId: 'e'.repeat(64), peerId: '127.0.0.1-1-writer', digest, contentLength: 500, pieceSize: 500 };

test('complete() records the digest: the task is then found by it; nothing is served before', async (t) => {
  const { store } = await makeStore(t);
  const r = await store.beginTask(req);
  assert.ok('writer' in r);
  if (!('writer' in r)) return;
  await r.writer.write(bytes, 0);
  r.writer.recordPiece({ num: 0, range: { start: 0, length: 500 }, digest: 'crc32:00000000' });
  assert.equal(await store.findCompleted({ digest }), undefined, 'not served while writing');
  await r.writer.complete({ digest });
  assert.equal((await store.findCompleted({ digest }))?.taskId, req.taskId);
});

test('a written task completes once; the writer is closed afterwards; abort removes a task not kept for resume', async (t) => {
  const { store, dataPath } = await makeStore(t);
  const r = await store.beginTask(req);
  assert.ok('writer' in r);
  if (!('writer' in r)) return;
  await r.writer.write([bytes.subarray(0, 200), bytes.subarray(200)], 0);
  r.writer.recordPiece({ num: 0, range: { start: 0, length: 500 }, digest: 'crc32:00000000' });
  const entry = await r.writer.complete({ digest });
  assert.equal(entry.contentLength, 500);
  await assert.rejects(r.writer.write(bytes, 0), ClosedError);
  const otherDigest = `sha256:${'1'.repeat(64)}`;
  const other = await store.beginTask({
    ...req,
    taskId: 'f'.repeat(64),
    peerId: '127.0.0.1-1-gone',
    digest: otherDigest,
  });
  assert.ok('writer' in other);
  if (!('writer' in other)) return;
  await other.writer.abort();
  assert.equal(existsSync(path.join(dataPath, 'f'.repeat(64), '127.0.0.1-1-gone')), false);
});
