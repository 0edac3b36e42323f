import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BlobVerifier } from '../../../src/conductor/blob-verifier.js';
import { ChunkPool } from '../../../src/internal/chunk-pool.js';

let dir: string;
let file: string;
const data = randomBytes(3 * 1024 * 1024 + 17);
const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-verifier-'));
  file = path.join(dir, 'data');
  writeFileSync(file, data);
});
after(() => rmSync(dir, { recursive: true, force: true }));

for (const useWorker of [false, true]) {
  test(`the digest of the file, read back as the prefix advances (${useWorker ? 'on a worker' : 'on this thread'})`, async () => {
    const v = new BlobVerifier(file, data.length, digest, { useWorker });
    v.advance(1024 * 1024);
    v.advance(data.length);
    assert.equal(await v.result(), digest);
    await v.close();
  });
}

/**
 * Over `path`: piece 0 (the first MiB) fed right and done, then piece 1 fed 1000 wrong bytes and
 * failed; the rest is read from the file. Returns the digest the verifier reached.
 */
async function afterSecondPieceFails(path: string): Promise<string> {
  const v = new BlobVerifier(path, data.length, digest, { useWorker: false });
  assert.equal(v.inline, true);
  const half = 1024 * 1024;
  v.feed(0, 0, data.subarray(0, half));
  v.pieceDone(0);
  v.feed(half, half, Buffer.alloc(1000, 0xee));
  v.pieceFailed(half);
  v.advance(data.length);
  try {
    return await v.result();
  } finally {
    await v.close();
  }
}

test('bytes fed in order are hashed without a read-back; what a failed piece fed does not count', async () => {
  assert.equal(await afterSecondPieceFails(file), digest, 'the failed piece was hashed from the file');
});

test('a failed piece resumes the hash from its own start: the prefix before it is not read from the file again', async () => {
  // The file's first half differs from the bytes fed for it: only a re-read of the prefix sees that.
  const other = path.join(dir, 'prefix-differs');
  const onDisk = Buffer.from(data);
  onDisk.fill(0x55, 0, 1024 * 1024);
  writeFileSync(other, onDisk);
  assert.equal(await afterSecondPieceFails(other), digest, 'the hash resumed at the failed piece, with the fed prefix');
});

test("the next piece's bytes do not take over while the last fed piece may still fail: its failure still restarts the hash", async () => {
  const v = new BlobVerifier(file, data.length, digest, { useWorker: false });
  const piece = 1024 * 1024;
  v.feed(0, 0, Buffer.alloc(piece, 0xee)); // piece 0 fed whole (bytes a sender will be refused for)
  v.feed(piece, piece, data.subarray(piece, piece + 1000)); // piece 1 starts before piece 0 ended
  v.pieceFailed(0);
  v.advance(data.length);
  assert.equal(await v.result(), digest, "piece 0's refused bytes were not kept in the hash");
  await v.close();
});

test('a file that differs from the digest yields the other digest (the conductor compares)', async () => {
  const wrong = `sha256:${'0'.repeat(64)}`;
  const v = new BlobVerifier(file, data.length, wrong, { useWorker: false });
  v.advance(data.length);
  assert.equal(await v.result(), digest);
  await v.close();
});

/** The file with `[from, to)` zeroed: a read-back of that span hashes to something else. */
function fileWithHole(name: string, from: number, to: number): string {
  const f = path.join(dir, name);
  const copy = Buffer.from(data);
  copy.fill(0, from, to);
  writeFileSync(f, copy);
  return f;
}

test('bytes ahead of the prefix are kept in memory and hashed from there, not read back', async () => {
  const piece = 1024 * 1024;
  const f = fileWithHole('hole-kept', piece, 2 * piece);
  const memory = new ChunkPool();
  const v = new BlobVerifier(f, data.length, digest, { useWorker: false, memory });
  // Another connection delivers piece 1 first (pooled chunks, as the direct reader hands them out).
  const b = memory.take();
  b.set(data.subarray(piece, 2 * piece));
  v.feed(piece, piece, b.subarray(0, piece / 2));
  v.feed(piece, piece + piece / 2, b.subarray(piece / 2, piece));
  memory.release(b); // the reader let go; the verifier still holds its views
  v.pieceDone(piece);
  assert.equal(memory.lent, 1, 'the kept bytes pin their buffer');
  v.feed(0, 0, data.subarray(0, piece));
  v.pieceDone(0);
  v.advance(data.length);
  assert.equal(await v.result(), digest, 'the span was read back from the file instead of memory');
  assert.equal(memory.lent, 0, 'a kept buffer was not handed back');
  await v.close();
});

test('what does not fit the bound, and what a failed piece sent, is read back from the file', async () => {
  const piece = 1024 * 1024;
  const memory = new ChunkPool();
  // Over the bound: the span is not kept, so the file's (zeroed) bytes are what is hashed.
  const f = fileWithHole('hole-evicted', piece, 2 * piece);
  const zeroed = Buffer.from(data).fill(0, piece, 2 * piece);
  const zeroedDigest = `sha256:${createHash('sha256').update(zeroed).digest('hex')}`;
  const small = new BlobVerifier(f, data.length, digest, { useWorker: false, memory, holdBytes: 1000 });
  const b = memory.take();
  b.set(data.subarray(piece, 2 * piece));
  small.feed(piece, piece, b.subarray(0, piece));
  small.pieceDone(piece);
  small.feed(0, 0, data.subarray(0, piece));
  small.pieceDone(0);
  small.advance(data.length);
  assert.equal(await small.result(), zeroedDigest);
  await small.close();
  // A failed piece's kept bytes are dropped: its retry wrote the file, which is what counts.
  const v = new BlobVerifier(file, data.length, digest, { useWorker: false, memory });
  b.fill(0xee);
  v.feed(piece, piece, b.subarray(0, 4096));
  v.pieceFailed(piece);
  memory.release(b);
  v.feed(0, 0, data.subarray(0, piece));
  v.pieceDone(0);
  v.pieceDone(piece);
  v.advance(data.length);
  assert.equal(await v.result(), digest);
  assert.equal(memory.lent, 0);
  await v.close();
});

test('on a worker, the thread starts with the first bytes declared final: a verifier given none starts none', async () => {
  // A daemon's file taken whole is hashed by its own check: a worker started for it would cost
  // ~50 ms of CPU and ~10 MiB for nothing. Threads are counted in /proc (Linux, as CI).
  await readFile(file); // the thread pool is up before counting
  const threads = () => readdirSync('/proc/self/task').length;
  const before = threads();
  const v = new BlobVerifier(file, data.length, digest, { useWorker: true });
  v.advance(0);
  assert.equal(threads(), before, 'no thread while nothing is final');
  v.advance(data.length);
  assert.equal(threads(), before + 1, 'the hashing thread');
  assert.equal(await v.result(), digest);
  const idle = new BlobVerifier(file, data.length, digest, { useWorker: true });
  idle.hashedWhole(digest);
  assert.equal(await idle.result(), digest);
  await idle.close();
});
