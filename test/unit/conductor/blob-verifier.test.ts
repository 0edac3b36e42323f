import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BlobVerifier } from '../../../src/conductor/blob-verifier.js';

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

test('bytes fed in order are hashed without a read-back; a failed piece re-hashes its prefix from the file', async () => {
  const v = new BlobVerifier(file, data.length, digest, { useWorker: false });
  assert.equal(v.inline, true);
  const half = 1024 * 1024;
  v.feed(0, 0, data.subarray(0, half));
  v.pieceDone(0);
  // Piece 1 feeds wrong bytes, then fails: what it fed must not count.
  v.feed(half, half, Buffer.alloc(1000, 0xee));
  v.pieceFailed(half);
  v.advance(data.length);
  assert.equal(await v.result(), digest, 'the re-hash read the real bytes from the file');
  await v.close();
});

test('a file that differs from the digest yields the other digest (the conductor compares)', async () => {
  const wrong = `sha256:${'0'.repeat(64)}`;
  const v = new BlobVerifier(file, data.length, wrong, { useWorker: false });
  v.advance(data.length);
  assert.equal(await v.result(), digest);
  await v.close();
});
