// StorageManager on real directories: metadata, strategies and link counts, reuse, validation,
// restart and close. Downloads are simulated by writing pieces through a TaskWriter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, StorageQuotaError } from '../../../src/core/errors.js';
import { StorageManager } from '../../../src/storage/storage-manager.js';
import { splitPieceDigest } from '../../../src/storage/piece-digest.js';
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

const ADV = 'io.d7y.storage.v2.advance' as const;
const SIMPLE = 'io.d7y.storage.v2.simple' as const;

async function openStore(
  t: import('node:test').TestContext,
  o: Partial<Parameters<typeof StorageManager.open>[0]> & { dataPath: string },
): Promise<StorageManager> {
  const s = await StorageManager.open({ gcInterval: 0, ...o });
  t.after(() => s.close());
  return s;
}

test('metadata is done:true only after completion, with Dragonfly keys, sizes, piece count and pieceMd5Sign', async (t) => {
  const dir = tmpDir(t);
  const store = await openStore(t, { dataPath: path.join(dir, 'data'), pieceDigest: 'md5' });
  const bytes = randomBytes(200_000);
  const taskId = taskIdOf('oras://r/a:t');
  const peerId = newPeerId();
  const r = await store.beginTask({
    taskId,
    peerId,
    contentLength: bytes.length,
    pieceSize: 65536,
    digest: digestOf(bytes),
  });
  assert.ok('writer' in r);
  const metaPath = path.join(dir, 'data', taskId, peerId, 'metadata');
  await writePieces(r.writer, bytes, undefined, 'md5');
  await r.writer.flush();
  // Deliberate deviation: progress is persisted (done:false) so interrupted downloads can resume.
  const before = JSON.parse(await fsp.readFile(metaPath, 'utf8'));
  assert.equal(before.done, false);
  await r.writer.complete({ digest: digestOf(bytes) });
  const m = JSON.parse(await fsp.readFile(metaPath, 'utf8'));
  assert.deepEqual(Object.keys(m).slice(0, 11), [
    'storeStrategy',
    'taskID',
    'taskMeta',
    'contentLength',
    'totalPieces',
    'peerID',
    'pieces',
    'pieceMd5Sign',
    'dataFilePath',
    'done',
    'header',
  ]);
  assert.equal(m.done, true);
  assert.equal(m.contentLength, 200_000);
  assert.equal(m.totalPieces, 4);
  assert.equal(m.header, null);
  assert.equal(m.storeStrategy, SIMPLE);
  assert.equal(m.dataFilePath, path.join(dir, 'data', taskId, peerId, 'data'));
  // Piece keys: decimal strings; zero-valued num/offset omitted; Start/Length capitalised; md5 hex.
  assert.deepEqual(Object.keys(m.pieces), ['0', '1', '2', '3']);
  assert.equal('num' in m.pieces['0'], false);
  assert.equal('offset' in m.pieces['0'], false);
  assert.deepEqual(m.pieces['0'].range, { Start: 0, Length: 65536 });
  assert.deepEqual(m.pieces['3'].range, { Start: 196608, Length: 200_000 - 196608 });
  assert.equal(m.pieces['1'].num, 1);
  assert.equal(m.pieces['1'].offset, 65536);
  const md5s = [0, 1, 2, 3].map((n) =>
    createHash('md5')
      .update(bytes.subarray(n * 65536, Math.min((n + 1) * 65536, bytes.length)))
      .digest('hex'),
  );
  assert.deepEqual(
    [0, 1, 2, 3].map((n) => m.pieces[String(n)].md5),
    md5s,
  );
  assert.equal(m.pieceMd5Sign, createHash('sha256').update(md5s.join('')).digest('hex'));
  assert.equal(m.orasfly.digest, digestOf(bytes));
});

test('sign is sha256 over the crc32 hex strings; an empty blob has 0 pieces and an empty sign', async (t) => {
  const dir = tmpDir(t);
  const store = await openStore(t, { dataPath: dir });
  const bytes = randomBytes(70_000);
  const e = await download(store, bytes, { taskId: taskIdOf('x'), pieceSize: 65536 });
  const m = JSON.parse(await fsp.readFile(path.join(dir, e.taskId, e.peerId, 'metadata'), 'utf8'));
  const hexes = ['0', '1'].map((k) => splitPieceDigest(m.pieces[k].digest).hex);
  assert.equal(m.pieces['0'].md5, undefined);
  assert.equal(m.pieceMd5Sign, createHash('sha256').update(hexes.join('')).digest('hex'));
  const empty = await download(store, new Uint8Array(0), { taskId: taskIdOf('empty') });
  assert.equal(empty.totalPieces, 0);
  assert.equal(empty.pieceMd5Sign, '');
  const out = path.join(dir, '..', `${path.basename(dir)}-empty.sif`);
  t.after(() => fsp.rm(out, { force: true }));
  await store.materialize(empty, out);
  assert.equal((await fsp.stat(out)).size, 0);
});

test('advance, same filesystem: output, hidden file and store data share one inode (nlink 3)', async (t) => {
  const dir = tmpDir(t);
  const store = await openStore(t, { dataPath: path.join(dir, 'data'), strategy: ADV });
  const bytes = randomBytes(150_000);
  const out = path.join(dir, 'out', 'img.sif');
  const { entry } = await pull(store, bytes, { taskId: taskIdOf('a'), output: out });
  const hidden = path.join(dir, 'out', `.img.sif.dfget.cache.${entry.peerId}`);
  assert.equal(entry.dataFilePath, hidden);
  assert.equal(entry.storeStrategy, ADV);
  const [o, h, d] = await Promise.all([
    fsp.stat(out),
    fsp.stat(hidden),
    fsp.lstat(path.join(dir, 'data', entry.taskId, entry.peerId, 'data')),
  ]);
  assert.equal(o.ino, h.ino);
  assert.equal(o.ino, d.ino);
  assert.equal(o.nlink, 3);
  assert.deepEqual(await readAll(out), bytes);
  // A symbolic link, which adds no link to the inode, finds the hidden file should the metadata be lost.
  assert.equal(await fsp.readlink(path.join(dir, 'data', entry.taskId, entry.peerId, 'data-file')), hidden);
});

test('advance, data dir on another filesystem: data is a symlink to the hidden file; output + hidden share an inode (nlink 2)', async (t) => {
  const mnt = mountTmpfs(t, '16m');
  if (!mnt) return;
  const dir = tmpDir(t);
  const store = await openStore(t, { dataPath: path.join(mnt, 'data'), strategy: ADV });
  const bytes = randomBytes(100_000);
  const out = path.join(dir, 'img.sif');
  const { entry } = await pull(store, bytes, { taskId: taskIdOf('b'), output: out });
  const data = path.join(mnt, 'data', entry.taskId, entry.peerId, 'data');
  const l = await fsp.lstat(data);
  assert.ok(l.isSymbolicLink());
  assert.equal(await fsp.readlink(data), entry.dataFilePath);
  const [o, h] = await Promise.all([fsp.stat(out), fsp.stat(entry.dataFilePath)]);
  assert.equal(o.ino, h.ino);
  assert.equal(o.nlink, 2);
  assert.deepEqual(await readAll(out), bytes);
});

test('simple, same filesystem: output shares the inode of <dataPath>/<task>/<peer>/data (nlink 2)', async (t) => {
  const dir = tmpDir(t);
  const store = await openStore(t, { dataPath: path.join(dir, 'data') });
  const bytes = randomBytes(100_000);
  const out = path.join(dir, 'img.sif');
  const { entry } = await pull(store, bytes, { taskId: taskIdOf('c'), output: out });
  const data = path.join(dir, 'data', entry.taskId, entry.peerId, 'data');
  const [o, d] = await Promise.all([fsp.stat(out), fsp.stat(data)]);
  assert.equal(o.ino, d.ino);
  assert.equal(o.nlink, 2);
});

test('pull 2 to the same output path links it to the cache with full content (temp link + rename)', async (t) => {
  const dir = tmpDir(t);
  const store = await openStore(t, { dataPath: path.join(dir, 'data'), multiplex: true });
  const bytes = randomBytes(90_000);
  const out = path.join(dir, 'img.sif');
  const taskId = taskIdOf('d');
  const first = await pull(store, bytes, { taskId, output: out });
  // Replace the output with an unrelated file, then pull again to the same path.
  await fsp.rm(out);
  await fsp.writeFile(out, 'stale');
  const second = await pull(store, bytes, { taskId, output: out });
  assert.equal(second.reused, true);
  const o = await fsp.stat(out);
  assert.equal(o.ino, (await fsp.stat(first.entry.dataFilePath)).ino);
  assert.deepEqual(await readAll(out), bytes);
  // Pulling once more onto the same inode is a no-op that leaves no temp file.
  await store.materialize(second.entry, out);
  assert.deepEqual((await fsp.readdir(dir)).sort(), ['data', 'img.sif']);
});

test('pull 2 to another filesystem is a byte copy (different inode); advance first pulls never copy', async (t) => {
  const mnt = mountTmpfs(t, '16m');
  if (!mnt) return;
  const dir = tmpDir(t);
  const simple = await openStore(t, { dataPath: path.join(dir, 'simple'), multiplex: true });
  const bytes = randomBytes(120_000);
  const taskId = taskIdOf('e');
  const a = await pull(simple, bytes, { taskId, output: path.join(dir, 'a.sif') });
  const b = await pull(simple, bytes, { taskId, output: path.join(mnt, 'b.sif') });
  assert.equal(b.reused, true);
  const r = await simple.materialize(b.entry, path.join(mnt, 'c.sif'));
  assert.equal(r.method, 'copy');
  assert.notEqual((await fsp.stat(path.join(mnt, 'b.sif'))).ino, (await fsp.stat(a.entry.dataFilePath)).ino);
  assert.deepEqual(await readAll(path.join(mnt, 'b.sif')), bytes);

  const adv = await openStore(t, { dataPath: path.join(dir, 'adv'), strategy: ADV, multiplex: true });
  const c = await download(adv, bytes, { taskId: taskIdOf('e2'), output: path.join(mnt, 'first.sif') });
  const first = await adv.materialize(c, path.join(mnt, 'first.sif'));
  assert.equal(first.method, 'link'); // data born on the output's filesystem
  const again = await adv.materialize(c, path.join(dir, 'second.sif'));
  assert.equal(again.method, 'copy');
  assert.deepEqual(await readAll(path.join(dir, 'second.sif')), bytes);
});

test('a reuse copy to a filesystem too small for the blob is refused up front with ERR_ORASFLY_STORAGE_QUOTA', async (t) => {
  const mnt = mountTmpfs(t, '1m');
  if (!mnt) return;
  const dir = tmpDir(t);
  const store = await openStore(t, { dataPath: path.join(dir, 'data'), multiplex: true });
  const bytes = randomBytes(3 * 1024 * 1024);
  const e = await download(store, bytes, { taskId: taskIdOf('too-big') });
  await fsp.writeFile(path.join(mnt, 'img.sif'), 'previous');
  await assert.rejects(store.materialize(e, path.join(mnt, 'img.sif')), (err: unknown) => {
    assert.ok(err instanceof StorageQuotaError, String(err));
    assert.match((err as Error).message, /does not fit in .*nothing was written/);
    return true;
  });
  assert.deepEqual(await fsp.readdir(mnt), ['img.sif'], 'no partial copy');
  assert.equal(await fsp.readFile(path.join(mnt, 'img.sif'), 'utf8'), 'previous');
});

test('multiplex off: pull 2 downloads again into a second peer directory / hidden file', async (t) => {
  const dir = tmpDir(t);
  const store = await openStore(t, { dataPath: path.join(dir, 'data'), strategy: ADV, multiplex: false });
  const bytes = randomBytes(50_000);
  const taskId = taskIdOf('f');
  const a = await pull(store, bytes, { taskId, output: path.join(dir, 'out', 'a.sif') });
  const b = await pull(store, bytes, { taskId, output: path.join(dir, 'out', 'b.sif') });
  assert.equal(b.reused, false);
  assert.notEqual(a.entry.peerId, b.entry.peerId);
  assert.equal((await fsp.readdir(path.join(dir, 'data', taskId))).length, 2);
  const hidden = (await fsp.readdir(path.join(dir, 'out'))).filter((n) => n.includes('.dfget.cache.'));
  assert.equal(hidden.length, 2);
  assert.equal(await store.findCompleted({ taskId }), undefined);
});

test('a truncated or removed cache data file fails validation; a fresh download gives correct bytes', async (t) => {
  const dir = tmpDir(t);
  const store = await openStore(t, { dataPath: path.join(dir, 'data'), multiplex: true });
  const bytes = randomBytes(80_000);
  const taskId = taskIdOf('g');
  const a = await pull(store, bytes, { taskId, output: path.join(dir, 'a.sif') });
  await fsp.truncate(a.entry.dataFilePath, 1000);
  const drops: string[] = [];
  store.on('drop', (d) => drops.push(d.reason));
  assert.equal(await store.findCompleted({ taskId }), undefined);
  assert.equal(drops.length, 1);
  assert.equal(await exists(path.join(dir, 'data', taskId, a.entry.peerId)), false);
  const b = await pull(store, bytes, { taskId, output: path.join(dir, 'b.sif') });
  assert.equal(b.reused, false);
  assert.deepEqual(await readAll(path.join(dir, 'b.sif')), bytes);
  // Removed outright: same story.
  await fsp.rm(b.entry.dataFilePath);
  assert.equal(await store.findCompleted({ taskId }), undefined);
  const c = await pull(store, bytes, { taskId, output: path.join(dir, 'c.sif') });
  assert.equal(c.reused, false);
  assert.deepEqual(await readAll(path.join(dir, 'c.sif')), bytes);
});

test('two refs (task ids) to one blob: the second materialisation shares the inode, no new data file', async (t) => {
  const dir = tmpDir(t);
  const store = await openStore(t, { dataPath: path.join(dir, 'data'), multiplex: true });
  const bytes = randomBytes(100_000);
  const a = await pull(store, bytes, {
    taskId: taskIdOf('oras://r/img1:latest'),
    output: path.join(dir, 'image1.sif'),
  });
  const b = await pull(store, bytes, {
    taskId: taskIdOf('oras://r/img2:latest'),
    output: path.join(dir, 'image2.sif'),
  });
  assert.equal(b.reused, true);
  assert.equal(b.entry.taskId, a.entry.taskId);
  const [i1, i2] = await Promise.all([fsp.stat(path.join(dir, 'image1.sif')), fsp.stat(path.join(dir, 'image2.sif'))]);
  assert.equal(i1.ino, i2.ino);
  assert.equal(i1.nlink, 3);
  assert.deepEqual(await fsp.readdir(path.join(dir, 'data')).then((n) => n.filter((x) => !x.startsWith('.'))), [
    a.entry.taskId,
  ]);
  // Also found by digest from a second manager (another process would see the on-disk index).
  const other = await openStore(t, { dataPath: path.join(dir, 'data'), multiplex: true });
  const hit = await other.findCompleted({ digest: digestOf(bytes) });
  assert.equal(hit?.peerId, a.entry.peerId);
});

test('a cache file modified in place (through an output sharing its inode) is not reused', async (t) => {
  const dir = tmpDir(t);
  const store = await openStore(t, { dataPath: path.join(dir, 'data'), multiplex: true });
  const bytes = randomBytes(64_000);
  const taskId = taskIdOf('h');
  const out = path.join(dir, 'a.sif');
  await pull(store, bytes, { taskId, output: out });
  // Same size, different bytes, written through the user's output (same inode as the cache).
  const fh = await fsp.open(out, 'r+');
  await fh.write(Buffer.from('tampered'), 0, 8, 100);
  await fh.close();
  const b = await pull(store, bytes, { taskId, output: path.join(dir, 'b.sif') });
  assert.equal(b.reused, false);
  assert.deepEqual(await readAll(path.join(dir, 'b.sif')), bytes);
  assert.notEqual((await fsp.stat(path.join(dir, 'b.sif'))).ino, (await fsp.stat(out)).ino);
  // The user's (modified) output is left alone.
  assert.equal((await readAll(out)).subarray(100, 108).toString(), 'tampered');
});

test('an existing output survives a failed materialisation; no temp file is left', async (t) => {
  const dir = tmpDir(t);
  const store = await openStore(t, { dataPath: path.join(dir, 'data'), multiplex: true });
  const bytes = randomBytes(10_000);
  const e = await download(store, bytes, { taskId: taskIdOf('i') });
  const out = path.join(dir, 'out');
  await fsp.mkdir(path.join(out, 'img.sif', 'child'), { recursive: true }); // a non-empty dir: rename fails
  // A directory in the way is refused before anything is linked (not only when the rename fails).
  await assert.rejects(
    store.materialize(e, path.join(out, 'img.sif')),
    (err: unknown) => err instanceof InvalidArgumentError && err.field === 'output',
  );
  assert.deepEqual(await fsp.readdir(out), ['img.sif']);
  // An aborted materialise leaves the old file as it was.
  const file = path.join(dir, 'keep.sif');
  await fsp.writeFile(file, 'old');
  await assert.rejects(store.materialize(e, file, { signal: AbortSignal.abort() }));
  assert.equal(await fsp.readFile(file, 'utf8'), 'old');
});

test('advance with an output name too long for NAME_MAX uses a shorter hidden name instead of failing', async (t) => {
  const dir = tmpDir(t);
  const store = await openStore(t, { dataPath: path.join(dir, 'data'), strategy: ADV });
  const name = `${'x'.repeat(240)}.sif`;
  const out = path.join(dir, name);
  const bytes = randomBytes(1000);
  const e = await download(store, bytes, { taskId: taskIdOf('long'), output: out });
  assert.ok(Buffer.byteLength(path.basename(e.dataFilePath)) <= 255);
  assert.ok(path.basename(e.dataFilePath).includes('.dfget.cache'));
  await store.materialize(e, out);
  assert.equal((await fsp.stat(out)).nlink, 3);
});

test('advance without an output falls back to simple', async (t) => {
  const dir = tmpDir(t);
  const store = await openStore(t, { dataPath: dir, strategy: ADV });
  const e = await download(store, randomBytes(1000), { taskId: taskIdOf('noout') });
  assert.equal(e.storeStrategy, SIMPLE);
  assert.equal(e.dataFilePath, path.join(dir, e.taskId, e.peerId, 'data'));
});

test('restart: completed tasks reusable, interrupted ones resumable, garbage gone after GC, expiry from last access', async (t) => {
  const dir = tmpDir(t);
  const dataPath = path.join(dir, 'data');
  let clock = 1_000_000;
  const o = {
    dataPath,
    multiplex: true,
    strategy: ADV,
    taskExpireTime: '1h',
    now: () => clock,
    diskGCThresholdPercent: 0,
  };
  const s1 = await StorageManager.open({ ...o, gcInterval: 0 });
  const bytes = randomBytes(300_000);
  const done = await download(s1, bytes, { taskId: taskIdOf('done'), output: path.join(dir, 'out', 'done.sif') });
  // An interrupted download: 3 of 5 pieces, progress persisted.
  const partial = randomBytes(300_000);
  const r = await s1.beginTask({
    taskId: taskIdOf('partial'),
    peerId: newPeerId(),
    digest: digestOf(partial),
    contentLength: partial.length,
    pieceSize: 65536,
    output: path.join(dir, 'out', 'p.sif'),
  });
  assert.ok('writer' in r);
  await writePieces(r.writer, partial, (n) => n < 3);
  await r.writer.abort({ keepForResume: true });
  await s1.close();
  // Garbage: corrupt metadata (advance, data symlinked), a temp file, an empty task dir, no-metadata dir.
  const g1 = path.join(dataPath, taskIdOf('corrupt'), '127.0.0.1-1-peer1');
  await fsp.mkdir(g1, { recursive: true });
  await fsp.writeFile(path.join(g1, 'metadata'), '{"storeStrategy":');
  await fsp.writeFile(path.join(dir, 'out', '.x.sif.dfget.cache.127.0.0.1-1-peer1'), 'junk');
  await fsp.symlink(path.join(dir, 'out', '.x.sif.dfget.cache.127.0.0.1-1-peer1'), path.join(g1, 'data'));
  await fsp.mkdir(path.join(dataPath, taskIdOf('empty')));
  await fsp.mkdir(path.join(dataPath, taskIdOf('nometa'), '127.0.0.1-1-peer2'), { recursive: true });
  await fsp.writeFile(path.join(dataPath, done.taskId, done.peerId, '.orasfly-tmp-metadata.1.abc'), '{');

  clock += 3_000_000; // 50 min later: the old last access is 50 min ago
  const s2 = await StorageManager.open({ ...o, gcInterval: 0 });
  t.after(() => s2.close());
  // Opening is constant time: it neither reads nor cleans task directories.
  assert.equal((await fsp.readdir(dataPath)).filter((n) => !n.startsWith('.')).length, 5);
  assert.equal(await exists(path.join(dir, 'out', '.x.sif.dfget.cache.127.0.0.1-1-peer1')), true);
  const round = await s2.gc();
  assert.deepEqual(round.expired, [], 'last access 50 min ago, taskExpireTime 1h');
  assert.deepEqual(
    (await fsp.readdir(dataPath)).sort(),
    ['.claims', '.gc', '.index', '.locks', '.orasfly-store', done.taskId, taskIdOf('partial')].sort(),
  );
  assert.equal(await exists(path.join(dir, 'out', '.x.sif.dfget.cache.127.0.0.1-1-peer1')), false);
  // The temp file is gone; `data-file` links the advance data file born beside the output.
  assert.deepEqual(await fsp.readdir(path.join(dataPath, done.taskId, done.peerId)), ['data', 'data-file', 'metadata']);
  const hit = await s2.findCompleted({ taskId: done.taskId });
  assert.equal(hit?.peerId, done.peerId);
  await s2.materialize(hit!, path.join(dir, 'again.sif'));
  assert.deepEqual(await readAll(path.join(dir, 'again.sif')), bytes);
  // Resume keeps the 3 verified pieces.
  const r2 = await s2.beginTask({
    taskId: taskIdOf('partial'),
    peerId: newPeerId(),
    digest: digestOf(partial),
    contentLength: partial.length,
    pieceSize: 65536,
    output: path.join(dir, 'out', 'p.sif'),
  });
  assert.ok('writer' in r2);
  assert.equal(r2.writer.resumed, true);
  assert.deepEqual([...r2.writer.pieces.keys()].sort(), [0, 1, 2]);
  await writePieces(r2.writer, partial);
  const pe = await r2.writer.complete({ digest: digestOf(partial) });
  await s2.materialize(pe, path.join(dir, 'p.sif'));
  assert.deepEqual(await readAll(path.join(dir, 'p.sif')), partial);
  // Expiry counts from the last access (both entries were used just now), in every process.
  clock += 1_200_000;
  const e1 = await s2.gc();
  assert.deepEqual(e1.expired, []);
  clock += 3_000_000;
  const e2 = await s2.gc();
  assert.equal(e2.expired.length, 2);
});

test('resume drops recorded pieces whose bytes no longer match their digest', async (t) => {
  const dir = tmpDir(t);
  const bytes = randomBytes(4 * 65536);
  const s1 = await StorageManager.open({ dataPath: dir, gcInterval: 0 });
  const taskId = taskIdOf('res');
  const r = await s1.beginTask({
    taskId,
    peerId: newPeerId(),
    digest: digestOf(bytes),
    contentLength: bytes.length,
    pieceSize: 65536,
  });
  assert.ok('writer' in r);
  await writePieces(r.writer, bytes, (n) => n < 3);
  await r.writer.abort({ keepForResume: true });
  const fh = await fsp.open(r.writer.dataFilePath, 'r+');
  await fh.write(Buffer.from('XXXX'), 0, 4, 65536 + 10); // corrupt piece 1
  await fh.close();
  await s1.close();
  const s2 = await StorageManager.open({ dataPath: dir, gcInterval: 0 });
  t.after(() => s2.close());
  const r2 = await s2.beginTask({
    taskId,
    peerId: newPeerId(),
    digest: digestOf(bytes),
    contentLength: bytes.length,
    pieceSize: 65536,
  });
  assert.ok('writer' in r2);
  assert.deepEqual([...r2.writer.pieces.keys()].sort(), [0, 2]);
  assert.equal(r2.writer.peerId, r.writer.peerId);
  await writePieces(r2.writer, bytes);
  const e = await r2.writer.complete({ digest: digestOf(bytes) });
  await s2.materialize(e, path.join(dir, '..', `${path.basename(dir)}.out`));
  t.after(() => fsp.rm(path.join(dir, '..', `${path.basename(dir)}.out`), { force: true }));
  assert.deepEqual(await readAll(path.join(dir, '..', `${path.basename(dir)}.out`)), bytes);
});

test('close with keepStorage: false removes cache dirs and hidden files; outputs remain', async (t) => {
  const dir = tmpDir(t);
  const dataPath = path.join(dir, 'data');
  // Without multiplex each pull downloads its own entry, as in Dragonfly.
  const store = await StorageManager.open({
    dataPath,
    strategy: ADV,
    keepStorage: false,
    gcInterval: 0,
    multiplex: false,
  });
  const bytes = randomBytes(70_000);
  const outs = [path.join(dir, 'o1', 'a.sif'), path.join(dir, 'o2', 'b.sif')];
  for (const [i, out] of outs.entries()) await pull(store, bytes, { taskId: taskIdOf(`k${i}`), output: out });
  await store.beginTask({
    taskId: taskIdOf('open'),
    peerId: newPeerId(),
    contentLength: 10,
    pieceSize: 10,
    output: path.join(dir, 'o3', 'c.sif'),
  });
  await store.close();
  assert.deepEqual(
    (await fsp.readdir(dataPath)).filter((n) => !n.startsWith('.')),
    [],
  );
  for (const out of outs) {
    assert.deepEqual(await fsp.readdir(path.dirname(out)), [path.basename(out)]);
    assert.deepEqual(await readAll(out), bytes);
    assert.equal((await fsp.stat(out)).nlink, 1);
  }
  assert.deepEqual(await fsp.readdir(path.join(dir, 'o3')), []);
});

test('strategy names: unknown fails open() naming storage.strategy with upstream text; trailing dot warns; empty = simple', async (t) => {
  const dir = tmpDir(t);
  await assert.rejects(
    StorageManager.open({ dataPath: dir, strategy: 'io.d7y.storage.v3.simple' as never }),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      e.field === 'storage.strategy' &&
      /not support store strategy: io\.d7y\.storage\.v3\.simple/.test(e.message),
  );
  const warned = await openStore(t, { dataPath: dir, strategy: 'io.d7y.storage.v2.advance.' as never });
  assert.equal(warned.options.strategy.name, ADV);
  assert.equal(warned.warnings.length, 1);
  const empty = await openStore(t, { dataPath: dir, strategy: '' });
  assert.equal(empty.options.strategy.name, SIMPLE);
});
