import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { EntryLookup } from '../../../src/storage/lookup.js';
import { ReaderClaims } from '../../../src/storage/reader-claims.js';
import type { DropEvent } from '../../../src/storage/manager-types.js';
import { completeTask, filesContext, makeStore, resolved } from './store-fixture.js';

// The lookup over a real store directory, with a context of its own (a fresh entry table: the
// store's process pins nothing the lookup knows of).
function lookupOf(dataPath: string, drops: DropEvent[] = []) {
  const files = filesContext(dataPath);
  return new EntryLookup({
    files,
    claims: new ReaderClaims(path.join(dataPath, '.claims'), 60_000),
    options: resolved(dataPath),
    onDrop: (d) => drops.push(d),
  });
}

test('find: by task id or by blob digest; a malformed snapshot has no entry', async (t) => {
  const { dataPath, store } = await makeStore(t);
  const a = await completeTask(store, Buffer.alloc(30_000, 1), 1);
  const lookup = lookupOf(dataPath);
  assert.equal((await lookup.find({ taskId: a.taskId }))?.peerId, a.peerId);
  assert.equal((await lookup.find({ digest: a.digest }))?.taskId, a.taskId);
  assert.equal(await lookup.find({ taskId: 'f'.repeat(64) }), undefined);
  assert.equal(await lookup.entryOf({ ...a, taskId: '../x' }), undefined);
});

test('an entry whose data was truncated is dropped, not served, and its files removed', async (t) => {
  const { dataPath, store } = await makeStore(t);
  const a = await completeTask(store, Buffer.alloc(30_000, 2), 1);
  truncateSync(a.dataFilePath, 100);
  const drops: DropEvent[] = [];
  const lookup = lookupOf(dataPath, drops);
  assert.equal(await lookup.find({ taskId: a.taskId }), undefined);
  assert.deepEqual(
    drops.map((d) => [d.taskId, d.reason]),
    [[a.taskId, 'data changed, truncated or missing since completion']],
  );
  assert.equal(existsSync(a.dataFilePath), false);
});

test('a pinned entry is not removed; the last release of a marked entry removes it', async (t) => {
  const { dataPath, store } = await makeStore(t);
  const a = await completeTask(store, Buffer.alloc(30_000, 3), 1);
  const lookup = lookupOf(dataPath);
  const pin = await lookup.pin(a);
  pin.entry.marked = true;
  assert.equal(await lookup.removeLocked(pin.entry, 'test'), false, 'in use: kept');
  assert.equal(existsSync(a.dataFilePath), true);
  await pin.release();
  assert.equal(existsSync(a.dataFilePath), false, 'reclaimed after its last reader');
  await assert.rejects(lookup.pin(a), /is no longer in the store/);
});

test('materialize refreshes last access, unless the lookup did so within the second', async (t) => {
  const { dataPath, store } = await makeStore(t);
  const a = await completeTask(store, Buffer.alloc(30_000, 4), 1);
  let now = Date.now();
  const lookup = new EntryLookup({
    files: filesContext(dataPath),
    claims: new ReaderClaims(path.join(dataPath, '.claims'), 60_000),
    options: { ...resolved(dataPath), now: () => now },
    onDrop: () => {},
  });
  const metaMtime = () => statSync(path.join(path.dirname(a.dataFilePath), 'metadata')).mtimeMs;
  const found = await lookup.find({ taskId: a.taskId });
  assert.ok(found);
  const touched = metaMtime();
  assert.equal(Math.round(touched), Math.round(now), 'the lookup touched the entry');
  now += 200;
  await lookup.materialize(found, path.join(dataPath, '..', 'out1.sif'));
  assert.equal(metaMtime(), touched, 'no second write of (almost) the same time');
  now += 5_000;
  await lookup.materialize(found, path.join(dataPath, '..', 'out2.sif'));
  assert.equal(Math.round(metaMtime()), Math.round(now), 'a later reader refreshes it');
});
