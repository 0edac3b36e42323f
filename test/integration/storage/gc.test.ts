// GC with a fake clock (`now`) on real directories: expiry, quotas, percent thresholds, reclaim; the
// percent trigger on a real statfs of a tmpfs mount.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp, statfsSync } from 'node:fs';
import path from 'node:path';
import { RegistryCache } from '../../../src/storage/registry-cache.js';
import { StorageManager } from '../../../src/storage/storage-manager.js';
import type { StorageOptions } from '../../../src/storage/options.js';
import {
  digestOf,
  download,
  exists,
  mountTmpfs,
  newPeerId,
  pull,
  readAll,
  taskIdOf,
  tmpDir,
  writePieces,
} from './helpers.js';

const MIN = 60_000;

async function open(
  t: TestContext,
  o: Partial<StorageOptions> & { dataPath: string },
): Promise<{ store: StorageManager; clock: { now: number } }> {
  const clock = { now: 1_700_000_000_000 };
  const store = await StorageManager.open({
    gcInterval: '1m',
    diskGCThresholdPercent: 0,
    multiplex: true,
    now: () => clock.now,
    ...o,
  });
  t.after(() => store.close());
  return { store, clock };
}

test('taskExpireTime 0 never reclaims by expiry, registry records included', async (t) => {
  const dir = tmpDir(t);
  const { store, clock } = await open(t, { dataPath: dir, taskExpireTime: 0 });
  const e = await download(store, randomBytes(1000), { taskId: taskIdOf('a') });
  const registry = new RegistryCache(dir);
  await registry.putTag('r.example/lab/app:v1', 'sha256:' + 'a'.repeat(64));
  // A year on, by the store's clock and by the files' own times.
  clock.now = Date.now() + 365 * 24 * 60 * MIN;
  const r = await store.gc();
  assert.deepEqual(r.expired, []);
  assert.ok(await store.findCompleted({ taskId: e.taskId }));
  assert.equal((await registry.tag('r.example/lab/app:v1'))?.digest, 'sha256:' + 'a'.repeat(64));
});

test('a task idle longer than taskExpireTime is reclaimed at the next round; the output stays intact', async (t) => {
  const dir = tmpDir(t);
  const { store, clock } = await open(t, {
    dataPath: path.join(dir, 'data'),
    taskExpireTime: '10m',
    strategy: 'io.d7y.storage.v2.advance',
  });
  const bytes = randomBytes(40_000);
  const out = path.join(dir, 'out', 'img.sif');
  const { entry } = await pull(store, bytes, { taskId: taskIdOf('b'), output: out });
  clock.now += 9 * MIN;
  assert.deepEqual((await store.gc()).expired, []);
  clock.now += 2 * MIN;
  const r = await store.gc();
  assert.deepEqual(r.expired, [`${entry.taskId}/${entry.peerId}`]);
  assert.deepEqual(r.reclaimed, r.expired);
  assert.equal(await exists(path.join(dir, 'data', entry.taskId)), false);
  assert.equal(await exists(entry.dataFilePath), false); // hidden file gone
  assert.deepEqual(await fsp.readdir(path.join(dir, 'out')), ['img.sif']);
  assert.deepEqual(await readAll(out), bytes);
  assert.equal((await fsp.stat(out)).nlink, 1);
});

test('an interrupted (partial) entry kept for resume is collected once untouched for taskExpireTime, not before', async (t) => {
  const dir = tmpDir(t);
  const { store, clock } = await open(t, { dataPath: dir, taskExpireTime: '6h' });
  const bytes = randomBytes(4 * 64 * 1024);
  const r = await store.beginTask({
    taskId: taskIdOf('partial'),
    peerId: newPeerId(),
    digest: digestOf(bytes),
    contentLength: bytes.length,
    pieceSize: 64 * 1024,
  });
  assert.ok('writer' in r);
  await writePieces(r.writer, bytes, (n) => n < 2);
  await r.writer.abort({ keepForResume: true });
  const key = `${r.writer.taskId}/${r.writer.peerId}`;
  clock.now += 6 * 60 * MIN - MIN;
  assert.deepEqual((await store.gc()).expired, [], 'younger than taskExpireTime: kept for the next pull');
  assert.equal(await exists(path.join(dir, taskIdOf('partial'))), true);
  clock.now += 2 * MIN;
  const round = await store.gc();
  assert.deepEqual(round.expired, [key]);
  assert.deepEqual(round.reclaimed, [key]);
  assert.equal(await exists(path.join(dir, taskIdOf('partial'))), false);
});

test('reuse refreshes last access, so the task survives its old deadline', async (t) => {
  const dir = tmpDir(t);
  const { store, clock } = await open(t, { dataPath: dir, taskExpireTime: '10m' });
  const e = await download(store, randomBytes(1000), { taskId: taskIdOf('c') });
  clock.now += 8 * MIN;
  assert.ok(await store.findCompleted({ taskId: e.taskId }));
  clock.now += 8 * MIN; // 16 min after completion, 8 after reuse
  assert.deepEqual((await store.gc()).expired, []);
  clock.now += 3 * MIN;
  assert.equal((await store.gc()).expired.length, 1);
});

test('quota GC evicts least recently used first until under diskGCThreshold; an active download is never chosen', async (t) => {
  const dir = tmpDir(t);
  const { store, clock } = await open(t, { dataPath: dir, diskGCThreshold: 250_000, taskExpireTime: 0 });
  const keys: string[] = [];
  for (const name of ['t0', 't1', 't2', 't3']) {
    const e = await download(store, randomBytes(100_000), { taskId: taskIdOf(name) });
    keys.push(`${e.taskId}/${e.peerId}`);
    clock.now += MIN;
  }
  // t0 is touched again, so t1 and t2 are now the oldest.
  assert.ok(await store.findCompleted({ taskId: taskIdOf('t0') }));
  clock.now += MIN;
  // An active download (touched just now, writer open) must survive even though it counts toward the sum.
  const r = await store.beginTask({
    taskId: taskIdOf('active'),
    peerId: newPeerId(),
    contentLength: 100_000,
    pieceSize: 65536,
  });
  assert.ok('writer' in r);
  const rep = await store.gc();
  assert.equal(rep.quotaExcess, 500_000 - 250_000);
  assert.deepEqual(rep.evicted, [keys[1], keys[2], keys[3]]);
  assert.ok(await store.findCompleted({ taskId: taskIdOf('t0') }));
  assert.equal(await store.findCompleted({ taskId: taskIdOf('t1') }), undefined);
  assert.ok(await exists(r.writer.dataFilePath));
  await r.writer.abort();
});

test('quota GC prefers entries that free space: an entry still linked by an output goes last', async (t) => {
  const dir = tmpDir(t);
  const { store, clock } = await open(t, {
    dataPath: path.join(dir, 'data'),
    diskGCThreshold: 150_000,
    taskExpireTime: 0,
  });
  const shared = await pull(store, randomBytes(100_000), {
    taskId: taskIdOf('shared'),
    output: path.join(dir, 'o.sif'),
  });
  clock.now += MIN;
  const excl = await download(store, randomBytes(100_000), { taskId: taskIdOf('excl') });
  clock.now += MIN;
  assert.deepEqual(await store.usage(), { tasks: 2, bytes: 200_000, exclusiveBytes: 100_000, sharedBytes: 100_000 });
  const rep = await store.gc();
  assert.deepEqual(rep.evicted, [`${excl.taskId}/${excl.peerId}`]);
  assert.equal(rep.freedBytes, 100_000);
  assert.ok(await store.findCompleted({ taskId: shared.entry.taskId }));
});

test('a task marked for reclaim is no longer offered for reuse; a new request downloads again', async (t) => {
  const dir = tmpDir(t);
  const { store, clock } = await open(t, { dataPath: dir, taskExpireTime: '10m' });
  const bytes = randomBytes(5000);
  const e = await download(store, bytes, { taskId: taskIdOf('d') });
  clock.now += 11 * MIN;
  const rep = await store.gc();
  assert.deepEqual(rep.expired, [`${e.taskId}/${e.peerId}`]);
  assert.equal(await store.findCompleted({ taskId: e.taskId }), undefined);
  assert.equal(await store.findCompleted({ digest: e.digest }), undefined);
  const again = await store.beginTask({
    taskId: e.taskId,
    peerId: newPeerId(),
    digest: e.digest,
    contentLength: bytes.length,
    pieceSize: 4096,
  });
  assert.ok('writer' in again);
  await writePieces(again.writer, bytes);
  const e2 = await again.writer.complete({ digest: e.digest! });
  assert.notEqual(e2.peerId, e.peerId);
});

test('a pinned (being read) entry is never chosen by GC; once released it expires normally', async (t) => {
  const dir = tmpDir(t);
  const { store, clock } = await open(t, { dataPath: dir, taskExpireTime: '10m' });
  const bytes = randomBytes(5000);
  const e = await download(store, bytes, { taskId: taskIdOf('pinned') });
  const pin = await store.pin(e);
  clock.now += 11 * MIN;
  assert.deepEqual((await store.gc()).expired, []);
  assert.deepEqual(await readAll(pin.dataFilePath), bytes);
  await pin.release();
  assert.equal((await store.gc()).reclaimed.length, 1);
  assert.equal(await exists(path.join(dir, e.taskId)), false);
});

test('percent GC on a real statfs (tmpfs): oldest exclusive first until under the mark; 0 disables it', async (t) => {
  const mnt = mountTmpfs(t, '8m');
  if (!mnt) return;
  const dataPath = path.join(mnt, 'data');
  const { store, clock } = await open(t, { dataPath, diskGCThresholdPercent: 0, taskExpireTime: 0 });
  const keys: string[] = [];
  for (const name of ['p0', 'p1', 'p2']) {
    const e = await download(store, randomBytes(2 * 1024 * 1024), { taskId: taskIdOf(name), pieceSize: 1 << 20 });
    keys.push(`${e.taskId}/${e.peerId}`);
    clock.now += MIN;
  }
  const pct = (): number => {
    const s = statfsSync(mnt);
    const used = (s.blocks - s.bfree) * s.bsize;
    return (used / (used + s.bavail * s.bsize)) * 100;
  };
  assert.ok(pct() > 70, `tmpfs should be >70% full, is ${pct()}`);
  assert.deepEqual((await store.gc()).evicted, []); // percent 0: off
  await store.close();
  const { store: s2 } = await open(t, { dataPath, diskGCThresholdPercent: 50, taskExpireTime: 0 });
  const rep = await s2.gc();
  assert.ok(rep.disk && rep.disk.usedPercent > 70);
  assert.ok(rep.usageExcess > 0);
  // Reload keeps the recorded last-access order: oldest first, and only as many as needed.
  assert.deepEqual(rep.evicted, keys.slice(0, rep.evicted.length));
  assert.ok(rep.evicted.length >= 1 && rep.evicted.length < 3);
  assert.ok(pct() < 50, `after GC the tmpfs should be under 50%, is ${pct()}`);
});

test('percent GC never evicts entries an output still links (they would free nothing)', async (t) => {
  const mnt = mountTmpfs(t, '8m');
  if (!mnt) return;
  const { store } = await open(t, { dataPath: path.join(mnt, 'data'), diskGCThresholdPercent: 30, taskExpireTime: 0 });
  const bytes = randomBytes(4 * 1024 * 1024);
  await pull(store, bytes, { taskId: taskIdOf('linked'), output: path.join(mnt, 'out.sif'), pieceSize: 1 << 20 });
  const rep = await store.gc();
  assert.ok(rep.usageExcess > 0);
  assert.deepEqual(rep.evicted, []);
  assert.ok(rep.remaining > 0);
  assert.ok(await store.findCompleted({ taskId: taskIdOf('linked') }));
  assert.deepEqual(await readAll(path.join(mnt, 'out.sif')), bytes);
});

test('the GC timer runs gc() every gcInterval and emits a report (unref: does not keep the process alive)', async (t) => {
  const dir = tmpDir(t);
  const store = await StorageManager.open({ dataPath: dir, gcInterval: 20, diskGCThresholdPercent: 0 });
  t.after(() => store.close());
  // The store's timer is unref'd: keep the loop alive ourselves while waiting for it.
  const keepAlive = setInterval(() => {}, 1000);
  t.after(() => clearInterval(keepAlive));
  const rep = await new Promise((resolve) => store.once('gc', resolve));
  assert.ok(rep);
});

test('a GC round removes index temp files of dead writers only, and only old ones (a live writer, or another host, is about to rename its own)', async (t) => {
  const dir = tmpDir(t);
  const { store } = await open(t, { dataPath: dir });
  const idx = path.join(dir, '.index', 'sha256');
  await fsp.mkdir(idx, { recursive: true });
  // `.orasfly-tmp-<name>.<pid>.<rand>`: 0.1.0 parsed the pid from the wrong field and deleted both.
  const live = path.join(idx, `.orasfly-tmp-${'a'.repeat(64)}.${process.pid}.0badf00d`);
  const dead = path.join(idx, `.orasfly-tmp-${'b'.repeat(64)}.2147483646.0badf00d`);
  // A young one of a pid that is gone here may belong to another host of a shared filesystem.
  const young = path.join(idx, `.orasfly-tmp-${'c'.repeat(64)}.2147483646.0badf00d`);
  await fsp.writeFile(live, '{}');
  await fsp.writeFile(dead, '{}');
  await fsp.writeFile(young, '{}');
  const old = new Date(Date.now() - 3_600_000);
  await fsp.utimes(live, old, old);
  await fsp.utimes(dead, old, old);
  await store.gc();
  assert.equal(await exists(live), true);
  assert.equal(await exists(dead), false);
  assert.equal(await exists(young), true);
});

test('opening emits no event nobody can hear: option warnings are on `warnings`', async (t) => {
  const dir = tmpDir(t);
  const store = await StorageManager.open({
    dataPath: dir,
    strategy: 'io.d7y.storage.v2.simple.' as never,
    gcInterval: 0,
  });
  t.after(() => store.close());
  const heard: string[] = [];
  store.on('warning', (w) => heard.push(w));
  await new Promise((r) => setImmediate(r));
  assert.equal(store.warnings.length, 1);
  assert.match(store.warnings[0]!, /trailing dot/);
  assert.deepEqual(heard, []);
});
