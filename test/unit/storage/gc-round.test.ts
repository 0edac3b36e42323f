import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gcRoundLine, runGcRound } from '../../../src/storage/gc-round.js';
import { completeTask, filesContext, makeStore, resolved } from './store-fixture.js';

test('a round reclaims entries idle longer than taskExpireTime; a dry run only reports them', async (t) => {
  const { dataPath, store } = await makeStore(t);
  const e = await completeTask(store, Buffer.alloc(5000, 2));
  await store.close();
  const later = Date.now() + 2 * 60 * 60_000;
  const ctx = {
    ...filesContext(dataPath),
    options: resolved(dataPath, { taskExpireTime: '1h', now: () => later }),
    gcLog: () => {},
  };
  const dry = await runGcRound(ctx, { dryRun: true });
  assert.deepEqual(dry.expired, [`${e.taskId}/${e.peerId}`]);
  assert.deepEqual(dry.reclaimed, [], 'a dry run reclaims nothing');
  assert.ok(existsSync(e.dataFilePath), 'a dry run deletes nothing');
  const real = await runGcRound(ctx);
  assert.deepEqual(real.reclaimed, [`${e.taskId}/${e.peerId}`]);
  assert.equal(real.freedBytes, 5000);
  assert.equal(existsSync(e.dataFilePath), false);
  assert.match(gcRoundLine(real), /^gc round done, scanned: 1, reclaimed: 1, freed: 5000 bytes, cost: \d+ms$/);
});

test('entries used within taskExpireTime stay', async (t) => {
  const { dataPath, store } = await makeStore(t);
  await completeTask(store, Buffer.alloc(100, 3));
  await store.close();
  const ctx = { ...filesContext(dataPath), options: resolved(dataPath, { taskExpireTime: '1h' }), gcLog: () => {} };
  const r = await runGcRound(ctx);
  assert.deepEqual([r.expired, r.reclaimed], [[], []]);
});

test('a round counts an entry whose metadata cannot be read: scanned, invalid, reclaimed, its bytes freed (a dry run only reports it)', async (t) => {
  const { dataPath, store } = await makeStore(t);
  const e = await completeTask(store, Buffer.alloc(300_000, 4));
  await store.close();
  const peerDir = path.join(dataPath, e.taskId, e.peerId);
  truncateSync(path.join(peerDir, 'metadata'), 300);
  const ctx = { ...filesContext(dataPath), options: resolved(dataPath), gcLog: () => {} };
  const key = `${e.taskId}/${e.peerId}`;
  const dry = await runGcRound(ctx, { dryRun: true });
  assert.deepEqual([dry.scanned, dry.invalid, dry.reclaimed], [1, [key], []]);
  assert.ok(existsSync(peerDir), 'a dry run deletes nothing');
  const real = await runGcRound(ctx);
  assert.deepEqual([real.scanned, real.invalid, real.reclaimed, real.freedBytes], [1, [key], [key], 300_000]);
  assert.equal(existsSync(peerDir), false);
});

test('an entry judged unreadable by the scan is removed only if it still is under the lock (its writer may have finished since)', async (t) => {
  const { dataPath, store } = await makeStore(t);
  const e = await completeTask(store, Buffer.alloc(3000, 6));
  await store.close();
  const peerDir = path.join(dataPath, e.taskId, e.peerId);
  const metadata = path.join(peerDir, 'metadata');
  const whole = readFileSync(metadata);
  truncateSync(metadata, 10);
  const ctx = {
    ...filesContext(dataPath),
    options: resolved(dataPath),
    // Between the scan's verdict and the lock: the writer's metadata lands.
    gcLog: (format: string) => {
      if (format.includes('will be reclaimed')) writeFileSync(metadata, whole);
    },
  };
  const r = await runGcRound(ctx);
  assert.deepEqual(r.reclaimed, []);
  assert.ok(existsSync(path.join(peerDir, 'data')), 'the finished entry stays');
});

test('a round removes reader claims silent for twice the stale time (a claim on an entry removed by hand is never asked about again); fresh ones stay', async (t) => {
  const { dataPath, store } = await makeStore(t);
  await store.close();
  const claims = path.join(dataPath, '.claims');
  mkdirSync(claims, { recursive: true });
  const orphan = path.join(claims, `${'a'.repeat(64)}~127.0.0.1-1-x~host~1~00`);
  const fresh = path.join(claims, `${'b'.repeat(64)}~127.0.0.1-1-x~host~1~00`);
  writeFileSync(orphan, '');
  writeFileSync(fresh, '');
  const old = new Date(Date.now() - 10 * 60_000);
  utimesSync(orphan, old, old);
  const ctx = { ...filesContext(dataPath), options: resolved(dataPath, { lockStaleTime: '60s' }), gcLog: () => {} };
  await runGcRound(ctx);
  assert.equal(existsSync(orphan), false);
  assert.equal(existsSync(fresh), true);
});
