import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryTable } from '../../../src/storage/entry.js';
import { readPeer } from '../../../src/storage/entry-files.js';
import { completeTask, filesContext, makeStore } from './store-fixture.js';

test('the table keeps one instance per entry: adopt returns the known one; delete forgets it', async (t) => {
  const { dataPath, store } = await makeStore(t);
  const done = await completeTask(store, Buffer.alloc(1000, 1));
  const first = await readPeer(filesContext(dataPath), done.taskId, done.peerId);
  const second = await readPeer(filesContext(dataPath), done.taskId, done.peerId);
  assert.ok(first.kind === 'entry' && second.kind === 'entry');
  if (first.kind !== 'entry' || second.kind !== 'entry') return;
  const table = new EntryTable();
  const kept = table.adopt(first.entry);
  assert.equal(table.adopt(second.entry), kept, 'the instance carrying pins and writer state wins');
  assert.equal(table.get(done.taskId, done.peerId), kept);
  assert.equal(table.size, 1);
  assert.deepEqual(table.writing(), []);
  table.delete(kept);
  assert.equal(table.get(done.taskId, done.peerId), undefined);
  assert.equal(kept.meta.done, true);
  assert.equal(kept.meta.contentLength, 1000);
});
