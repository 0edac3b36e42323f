import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TaskEntry } from '../../../src/storage/storage-manager.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { acquireTaskLock } from '../../../src/storage/task-lock.js';
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

test('entries whose metadata is truncated or garbage are listed and counted as unreadable; verify removes them and reports them, except one in use', async (t) => {
  const { dataPath, store } = await makeStore(t);
  const truncated = await completeTask(store, Buffer.alloc(300_000, 1), 1);
  const garbage = await completeTask(store, Buffer.alloc(200_000, 2), 2);
  const held = await completeTask(store, Buffer.alloc(100_000, 3), 3);
  const good = await completeTask(store, Buffer.alloc(50_000, 4), 4);
  const peerDir = (e: TaskEntry) => path.join(dataPath, e.taskId, e.peerId);
  const key = (e: TaskEntry) => `${e.taskId}/${e.peerId}`;
  truncateSync(path.join(peerDir(truncated), 'metadata'), 300);
  writeFileSync(path.join(peerDir(garbage), 'metadata'), 'not json at all');
  writeFileSync(path.join(peerDir(held), 'metadata'), '{"storeStrategy":');

  const list = await store.list();
  assert.equal(list.length, 4, 'every entry is listed, readable or not');
  const byKey = new Map(list.map((e) => [`${e.taskId}/${e.peerId}`, e]));
  for (const e of [truncated, garbage, held]) {
    assert.equal(byKey.get(key(e))?.state, 'unreadable');
    assert.equal(byKey.get(key(e))?.size, e.contentLength, 'its data file is still measured');
  }
  assert.equal(byKey.get(key(good))?.state, 'complete');
  const usage = await store.usage();
  assert.equal(usage.tasks, 4);
  assert.equal(usage.bytes, 650_000);
  assert.equal(usage.exclusiveBytes, 650_000);

  const lock = await acquireTaskLock(path.join(dataPath, '.locks', `${held.taskId}.lock`), { tryOnly: true });
  assert.ok(lock);
  t.after(() => lock.release());
  const dry = await store.verify({ dryRun: true });
  assert.deepEqual(dry.unreadable.map((u) => u.key).sort(), [key(truncated), key(garbage)].sort());
  assert.ok(existsSync(peerDir(truncated)), 'a dry run deletes nothing');

  const real = await store.verify();
  assert.equal(real.checked, 1);
  assert.deepEqual(real.removed, []);
  assert.deepEqual(real.unreadable.map((u) => u.key).sort(), [key(truncated), key(garbage)].sort());
  assert.ok(real.unreadable.every((u) => /corrupt metadata/.test(u.reason)));
  assert.deepEqual(real.skipped, [key(held)], 'never one in use');
  assert.equal(existsSync(peerDir(truncated)), false);
  assert.equal(existsSync(peerDir(garbage)), false);
  assert.ok(existsSync(peerDir(held)));
  await lock.release();

  // clean names an unreadable entry by its task id, and frees its bytes.
  const cleaned = await store.clean([held.taskId]);
  assert.deepEqual(cleaned.removed, [key(held)]);
  assert.equal(cleaned.freedBytes, 100_000);
  assert.deepEqual(
    (await store.list()).map((e) => e.taskId),
    [good.taskId],
  );
});

test("clean takes the short task ids and digests 'cache list' prints, and reports selectors that name nothing", async (t) => {
  const { store } = await makeStore(t);
  const a = await completeTask(store, Buffer.alloc(10_000, 1), 1);
  const b = await completeTask(store, Buffer.alloc(20_000, 2), 2);
  const c = await completeTask(store, Buffer.alloc(30_000, 3), 3);
  const digestOf = async (e: TaskEntry) => (await store.list()).find((x) => x.taskId === e.taskId)!.digest!;
  const shortDigest = (await digestOf(b)).slice(0, 19); // `sha256:` and 12 hex, as `cache list` prints it
  const r = await store.clean([a.taskId.slice(0, 12), shortDigest, 'sha256:0123456789ab', 'abc'], { dryRun: true });
  assert.deepEqual(r.removed.sort(), [`${a.taskId}/${a.peerId}`, `${b.taskId}/${b.peerId}`].sort());
  // Too short to be an id (under 6 hex) and a digest prefix of no entry: named, not ignored.
  assert.deepEqual(r.unmatched, ['sha256:0123456789ab', 'abc']);
  const real = await store.clean([c.taskId.slice(0, 12)]);
  assert.deepEqual(real.removed, [`${c.taskId}/${c.peerId}`]);
  assert.deepEqual(real.unmatched, []);
  assert.equal((await store.list()).length, 2);
});

test('clean refuses an empty selector (an unset variable) instead of cleaning everything', async (t) => {
  const { store } = await makeStore(t);
  const a = await completeTask(store, Buffer.alloc(40_000, 7), 1);
  for (const selectors of [[''], ['  '], [a.taskId, '']])
    await assert.rejects(
      store.clean(selectors),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'selectors',
      JSON.stringify(selectors),
    );
  assert.equal((await store.list()).length, 1, 'the entry is still there');
});
