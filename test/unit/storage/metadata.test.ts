import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, promises as fsp, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { StorageError } from '../../../src/core/errors.js';
import {
  decodeMetadata,
  encodeMetadata,
  readMetadata,
  type TaskMetadata,
  writeMetadata,
} from '../../../src/storage/metadata.js';
import { createPieceHasher, pieceSign } from '../../../src/storage/piece-digest.js';
import { hiddenDataName } from '../../../src/storage/strategies/advance.js';

test('createPieceHasher: crc32 matches zlib, md5 matches crypto, incremental', () => {
  const b = Buffer.from('hello world');
  const c = createPieceHasher('crc32');
  c.update(b.subarray(0, 5));
  c.update(b.subarray(5));
  assert.equal(c.digest(), `crc32:${zlib.crc32(b).toString(16).padStart(8, '0')}`);
  const m = createPieceHasher('md5');
  m.update(b);
  assert.equal(m.digest(), `md5:${createHash('md5').update(b).digest('hex')}`);
  assert.equal(createPieceHasher('crc32').digest(), 'crc32:00000000');
});

test('pieceSign: sha256 of the concatenated digest hex strings; empty → ""', () => {
  assert.equal(pieceSign([]), '');
  assert.equal(
    pieceSign(['md5:' + 'a'.repeat(32), 'md5:' + 'b'.repeat(32)]),
    createHash('sha256')
      .update('a'.repeat(32) + 'b'.repeat(32))
      .digest('hex'),
  );
});

const sample = (): TaskMetadata => ({
  storeStrategy: 'io.d7y.storage.v2.advance',
  taskId: 'a'.repeat(64),
  taskMeta: {},
  contentLength: 5,
  totalPieces: 2,
  peerId: '10.0.0.5-4242-x',
  pieces: new Map([
    [1, { num: 1, range: { start: 4, length: 1 }, digest: 'md5:' + '1'.repeat(32), cost: 7 }],
    [0, { num: 0, range: { start: 0, length: 4 }, digest: 'md5:' + '0'.repeat(32) }],
  ]),
  pieceMd5Sign: 'f'.repeat(64),
  dataFilePath: '/out/.img.sif.dfget.cache.10.0.0.5-4242-x',
  done: true,
  header: null,
  ext: {
    version: 1,
    digest: 'sha256:' + 'e'.repeat(64),
    pieceDigest: 'md5',
    pieceSize: 4,
    lastAccess: 1,
    completedAt: 1,
    fingerprint: { ino: 9, size: 5, mtimeMs: 1.5 },
    storeLink: 'hardlink',
  },
});

test('encodeMetadata writes Dragonfly JSON exactly (key order, omitted zero values, Start/Length)', () => {
  const j = JSON.parse(encodeMetadata(sample()));
  assert.deepEqual(Object.keys(j), [
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
    'orasfly',
  ]);
  assert.deepEqual(j.pieces['0'], {
    md5: '0'.repeat(32),
    range: { Start: 0, Length: 4 },
    digest: 'md5:' + '0'.repeat(32),
  });
  assert.deepEqual(j.pieces['1'], {
    num: 1,
    md5: '1'.repeat(32),
    offset: 4,
    range: { Start: 4, Length: 1 },
    cost: 7,
    digest: 'md5:' + '1'.repeat(32),
  });
  assert.deepEqual(decodeMetadata(encodeMetadata(sample()), 'm'), {
    ...sample(),
    pieces: new Map([...sample().pieces].sort()),
  });
});

test('decodeMetadata accepts upstream metadata (no orasfly key) and rejects torn files naming the path', () => {
  const up =
    '{"storeStrategy":"io.d7y.storage.v2.simple","taskID":"t","taskMeta":{},"contentLength":4,"totalPieces":1,"peerID":"p","pieces":{"0":{"md5":"' +
    '0'.repeat(32) +
    '","range":{"Start":0,"Length":4},"cost":812345}},"pieceMd5Sign":"","dataFilePath":"/d","done":true,"header":null}';
  const m = decodeMetadata(up, 'x');
  assert.equal(m.pieces.get(0)?.digest, 'md5:' + '0'.repeat(32));
  assert.equal(m.ext.fingerprint, undefined);
  assert.throws(
    () => decodeMetadata(up.slice(0, 40), '/data/t/p/metadata'),
    (e: unknown) => e instanceof StorageError && e.path === '/data/t/p/metadata',
  );
});

test('writeMetadata is atomic (no temp left) and sets mtime to the last access', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-meta-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'metadata');
  const m = sample();
  m.ext.lastAccess = 1_600_000_000_000;
  await writeMetadata(f, m);
  await writeMetadata(f, m);
  assert.deepEqual(await fsp.readdir(dir), ['metadata']);
  assert.equal((await fsp.stat(f)).mtimeMs, 1_600_000_000_000);
  assert.equal((await readMetadata(f))?.taskId, m.taskId);
  assert.equal(await readMetadata(path.join(dir, 'nope')), undefined);
});

test('hiddenDataName: Dragonfly name when it fits NAME_MAX, a hashed shorter one otherwise', () => {
  assert.equal(hiddenDataName('img.sif', 'p1'), '.img.sif.dfget.cache.p1');
  const long = hiddenDataName('x'.repeat(250), 'peer');
  assert.ok(Buffer.byteLength(long) <= 255 && long.endsWith('.dfget.cache.peer'));
  assert.ok(Buffer.byteLength(hiddenDataName('x'.repeat(250), 'p'.repeat(250))) <= 255);
});
