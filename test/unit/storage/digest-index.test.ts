import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DigestIndex } from '../../../src/storage/digest-index.js';

const digest = `sha256:${'c'.repeat(64)}`;

test('an index entry is written, read back, and removed only when it still points at the same entry', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-index-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const index = new DigestIndex(dir);
  assert.equal(await index.read(digest), undefined);
  const a = { taskId: 'a'.repeat(64), peerId: '127.0.0.1-1-a' };
  const b = { taskId: 'b'.repeat(64), peerId: '127.0.0.1-1-b' };
  await index.write(digest, a);
  assert.deepEqual(await index.read(digest), a);
  await index.removeIfPointsAt(digest, b);
  assert.deepEqual(await index.read(digest), a, "another entry's removal leaves it");
  await index.removeIfPointsAt(digest, a);
  assert.equal(await index.read(digest), undefined);
  assert.ok(index.pathOf(digest).startsWith(dir));
});

test('a pointer replaced since it was read is not removed: removal is decided on the inode that was read', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-index-ino-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const index = new DigestIndex(dir);
  const digest = `sha256:${'c'.repeat(64)}`;
  const a = { taskId: 'a'.repeat(64), peerId: '127.0.0.1-1-a' };
  const b = { taskId: 'b'.repeat(64), peerId: '127.0.0.1-1-b' };
  await index.write(digest, a);
  const file = index.pathOf(digest);
  const old = await index.readFile(file);
  assert.deepEqual(old.ref, a);
  // Another process completes the same blob: a new pointer renamed over the old one.
  await index.write(digest, b);
  await index.unlinkIfSame(file, old.ino);
  assert.deepEqual(await index.read(digest), b, 'the new pointer survives');
  await index.removeIfPointsAt(digest, a);
  assert.deepEqual(await index.read(digest), b, 'not a pointer at a: kept');
  await index.removeIfPointsAt(digest, b);
  assert.equal(await index.read(digest), undefined);
});
