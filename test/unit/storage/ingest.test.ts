import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { create, resume } from '../../../src/storage/ingest.js';
import { createPieceHasher } from '../../../src/storage/piece-digest.js';
import { AdvanceStrategy } from '../../../src/storage/strategies/advance.js';
import { SimpleStrategy } from '../../../src/storage/strategies/simple.js';
import { filesContext, makeStore } from './store-fixture.js';

const req = { taskId: 'd'.repeat(64), peerId: '127.0.0.1-1-ingest', contentLength: 1000, pieceSize: 256 };

test('create makes the peer directory, the empty data file and metadata that is not done', async (t) => {
  const { dataPath } = await makeStore(t);
  const ctx = {
    ...filesContext(dataPath),
    strategy: new SimpleStrategy(),
    pieceDigest: 'crc32' as const,
    now: () => Date.now(),
  };
  const e = await create(ctx, req);
  assert.equal(e.meta.done, false);
  assert.equal(e.meta.contentLength, 1000);
  assert.equal(e.meta.totalPieces, 4);
  assert.ok(existsSync(e.metaPath));
  assert.equal(statSync(path.join(dataPath, req.taskId, req.peerId, 'data')).size, 0);
  assert.equal(await resume(ctx, { ...req, peerId: '127.0.0.1-2-other' }, []), undefined, 'nothing to resume');
  assert.equal(existsSync(path.join(dataPath, req.taskId, req.peerId, 'data-file')), false, 'data is in the store');
});

test('a data file born outside the store (advance) is linked from the peer directory before it exists', async (t) => {
  const { dir, dataPath } = await makeStore(t);
  const ctx = {
    ...filesContext(dataPath),
    strategy: new AdvanceStrategy(),
    pieceDigest: 'crc32' as const,
    now: () => Date.now(),
  };
  const e = await create(ctx, { ...req, output: path.join(dir, 'out', 'img.sif') });
  const link = path.join(dataPath, req.taskId, req.peerId, 'data-file');
  assert.equal(readlinkSync(link), e.meta.dataFilePath);
  assert.equal(e.meta.dataFilePath, path.join(dir, 'out', `.img.sif.dfget.cache.${req.peerId}`));
  assert.equal(statSync(link).ino, statSync(path.join(dataPath, req.taskId, req.peerId, 'data')).ino);
});

test('an interrupted task is resumed with the pieces that still match their digests; a different size starts over', async (t) => {
  const { store } = await makeStore(t);
  const first = await store.beginTask(req);
  assert.ok('writer' in first);
  if (!('writer' in first)) return;
  const piece = Buffer.alloc(256, 1);
  await first.writer.write(piece, 0);
  const h = createPieceHasher('crc32');
  h.update(piece);
  first.writer.recordPiece({ num: 0, range: { start: 0, length: 256 }, digest: h.digest() });
  await first.writer.abort({ keepForResume: true });
  const again = await store.beginTask({ ...req, peerId: '127.0.0.1-3-again' });
  assert.ok('writer' in again);
  if (!('writer' in again)) return;
  assert.equal(again.writer.resumed, true);
  assert.deepEqual([...again.writer.pieces.keys()], [0]);
  assert.equal(again.writer.peerId, req.peerId, 'a resumed task keeps its peer id');
  await again.writer.abort({ keepForResume: true });
  const other = await store.beginTask({ ...req, peerId: '127.0.0.1-4-x', contentLength: 2000 });
  assert.ok('writer' in other && !other.writer.resumed);
  if ('writer' in other) await other.writer.abort();
});
