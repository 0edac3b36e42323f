// checkWholeFile: one read gives each piece's digest (checked against what the sender reported, in
// its own algorithm too) and the blob's; a file of another size is not taken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { planPieces } from '../../../src/core/piece-plan.js';
import { checkWholeFile } from '../../../src/conductor/whole-file-check.js';

const PIECE = 64 * 1024;
const bytes = randomBytes(3 * PIECE + 100);
const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const plan = planPieces(bytes.length, PIECE);
/** As a Rust daemon reports them: crc32 in decimal. */
const reported = new Map(
  [...Array(plan.totalPieces).keys()].map((n) => [
    n,
    `crc32:${crc32(bytes.subarray(n * PIECE, Math.min(bytes.length, (n + 1) * PIECE)))}`,
  ]),
);

function withFile(data: Buffer, fn: (file: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-wfc-'));
  const file = path.join(dir, 'blob');
  writeFileSync(file, data);
  return fn(file).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('a good file: every piece digest, none bad, the blob digest', () =>
  withFile(bytes, async (file) => {
    const c = await checkWholeFile(file, plan, 'crc32', reported, digest);
    assert.ok(c);
    assert.equal(c.blob, digest);
    assert.deepEqual(c.bad, []);
    assert.equal(c.pieces.length, plan.totalPieces);
    assert.match(c.pieces[0]!, /^crc32:[0-9a-f]{8}$/);
  }));

test('a flipped byte: that piece is bad (also with md5 pieces: the crc32 reported is computed too)', () => {
  const bad = Buffer.from(bytes);
  bad[PIECE + 7] = bad[PIECE + 7]! ^ 0xff;
  return withFile(bad, async (file) => {
    for (const alg of ['crc32', 'md5'] as const) {
      const c = await checkWholeFile(file, plan, alg, reported, digest);
      assert.deepEqual(c?.bad, [1], alg);
      assert.notEqual(c?.blob, digest);
    }
  });
});

test('a file of another size is not taken', () =>
  withFile(bytes.subarray(1), async (file) => {
    assert.equal(await checkWholeFile(file, plan, 'crc32', reported, digest), undefined);
  }));
