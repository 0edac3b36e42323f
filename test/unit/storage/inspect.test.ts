import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { completeTask, makeStore } from './store-fixture.js';

// The cache commands' logic (inspect.ts), through the store that wires its context.
test('list, usage, verify (dry-run keeps, a real run removes) and clean', async (t) => {
  const { store } = await makeStore(t);
  const a = await completeTask(store, Buffer.alloc(40_000, 5), 1);
  await completeTask(store, Buffer.alloc(60_000, 6), 2);
  const list = await store.list();
  assert.equal(list.length, 2);
  assert.ok(list.every((e) => e.state === 'complete'));
  const usage = await store.usage();
  assert.equal(usage.tasks, 2);
  assert.equal(usage.bytes, 100_000);
  writeFileSync(a.dataFilePath, Buffer.alloc(40_000, 9));
  const dry = await store.verify({ dryRun: true });
  assert.equal(dry.removed.length, 1);
  assert.equal((await store.list()).length, 2, 'dry run deletes nothing');
  const real = await store.verify();
  assert.equal(real.removed.length, 1);
  assert.equal((await store.list()).length, 1);
  const cleaned = await store.clean([]);
  assert.equal((await store.list()).length, 0);
  assert.ok(cleaned.freedBytes >= 0);
});
