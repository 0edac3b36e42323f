import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { readPeer } from '../../../src/storage/entry-files.js';
import { bootId, hashMatches, validDataPath } from '../../../src/storage/validate.js';
import { completeTask, filesContext, makeStore } from './store-fixture.js';

test("a completed entry's data is valid while its fingerprint holds, and hashes to its digest", async (t) => {
  const { dataPath, store } = await makeStore(t);
  const e = await completeTask(store, Buffer.alloc(50_000, 3));
  const r = await readPeer(filesContext(dataPath), e.taskId, e.peerId);
  assert.equal(r.kind, 'entry');
  if (r.kind !== 'entry') return;
  const p = await validDataPath(r.entry);
  assert.ok(p);
  assert.equal(await hashMatches(r.entry, p), true);
  writeFileSync(p, Buffer.alloc(50_000, 4)); // same size, other bytes
  assert.equal(await hashMatches(r.entry, p), false);
  appendFileSync(p, 'more');
  assert.equal(await validDataPath(r.entry), undefined, 'size and mtime no longer match the fingerprint');
});

test('bootId is a stable, non-empty id for this boot', () => {
  assert.ok(bootId().length > 0);
  assert.equal(bootId(), bootId());
});
