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
