import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
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

test('recording the last piece asks for no progress write: after it, only complete() writes the metadata', async (t) => {
  // A daemon's file taken whole records every piece at once; a progress write for the last one
  // would only be written over by complete().
  const { store } = await makeStore(t);
  const pieces = 16; // PERSIST_EVERY_PIECES: the last piece alone would have asked for a progress write
  const r = await store.beginTask({ ...req, taskId: 'd'.repeat(64), pieceSize: 500 / 20 });
  assert.ok('writer' in r);
  if (!('writer' in r)) return;
  await r.writer.write(bytes, 0);
  const renames = t.mock.method(fsp, 'rename');
  for (let n = 0; n < 20; n++) {
    if (n === 20 - pieces) await r.writer.flush(); // the first pieces are on disk: 16 remain unpersisted
    r.writer.recordPiece({ num: n, range: { start: n * 25, length: 25 }, digest: 'crc32:00000000' });
  }
  const before = renames.mock.calls.length;
  await r.writer.complete({ digest });
  const metadataWrites = renames.mock.calls.filter((c) => String(c.arguments[1]).endsWith(`${path.sep}metadata`));
  assert.equal(before, 1, 'only the flush wrote before complete()');
  assert.equal(metadataWrites.length, 2, 'the flush and complete(), no progress write between');
});

test('a file taken whole under the advance strategy: the store keeps a hard link to it, not to the old empty file', async (t) => {
  const { store, dir } = await makeStore(t, { strategy: 'io.d7y.storage.v2.advance' });
  const output = path.join(dir, 'out', 'img.sif');
  await fsp.mkdir(path.dirname(output), { recursive: true });
  const r = await store.beginTask({ ...req, taskId: 'c'.repeat(64), output });
  assert.ok('writer' in r);
  if (!('writer' in r)) return;
  const w = r.writer;
  assert.equal(w.dataInStore, false, 'advance: the data file is beside the output');
  const storeData = path.join(store.options.dataPath, 'c'.repeat(64), req.peerId, 'data');
  assert.equal((await fsp.stat(storeData)).ino, (await fsp.stat(w.dataFilePath)).ino, 'linked before');
  // The daemon's finished file, handed over in the data file's directory.
  const from = path.join(path.dirname(w.dataFilePath), '.orasfly-tmp-dfdaemon-test');
  await fsp.writeFile(from, bytes);
  const ino = (await fsp.stat(from)).ino;
  assert.equal(await w.adoptDataFile!(from, ino), true);
  assert.equal((await fsp.stat(w.dataFilePath)).ino, ino);
  assert.equal((await fsp.stat(storeData)).ino, ino, "the store's data follows the file taken");
  assert.deepEqual(await fsp.readFile(storeData), bytes);
  const names = await fsp.readdir(path.dirname(storeData));
  assert.deepEqual(
    names.filter((n) => n.startsWith('.orasfly-tmp-')),
    [],
    'no temp link left in the entry',
  );
  await w.abort();
});

test("abort deletes nothing once the task lock was taken over: the files are the new holder's", async (t) => {
  const { store, dataPath } = await makeStore(t);
  const r = await store.beginTask({ ...req, taskId: 'b'.repeat(64), peerId: '127.0.0.1-1-stopped' });
  assert.ok('writer' in r);
  if (!('writer' in r)) return;
  await r.writer.write(bytes, 0);
  // Another process took the lock over (this one was stopped for longer than lockStaleTime).
  await fsp.writeFile(
    path.join(dataPath, '.locks', `${'b'.repeat(64)}.lock`),
    JSON.stringify({ pid: 1, hostname: 'elsewhere', createdAt: Date.now(), token: 'theirs' }),
  );
  await r.writer.abort();
  assert.ok(existsSync(path.join(dataPath, 'b'.repeat(64), '127.0.0.1-1-stopped', 'data')), 'the data file stays');
});
