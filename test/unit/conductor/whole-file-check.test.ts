// checkWholeFile: one read gives each piece's digest (and its crc32, what a daemon reports, when the
// store uses another) and the blob's; badPieces holds them to what the sender reported; a file of
// another size is not taken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { planPieces } from '../../../src/core/piece-plan.js';
import { badPieces, checkWholeFile } from '../../../src/conductor/whole-file-check.js';

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
    const c = await checkWholeFile(file, plan, 'crc32', digest);
    assert.ok(c);
    assert.equal(c.blob, digest);
    assert.deepEqual(badPieces(c, reported), []);
    assert.equal(c.pieces.length, plan.totalPieces);
    assert.match(c.pieces[0]!, /^crc32:[0-9a-f]{8}$/);
  }));

test('a flipped byte: that piece is bad (also with md5 pieces: the crc32 reported is computed too)', () => {
  const bad = Buffer.from(bytes);
  bad[PIECE + 7] = bad[PIECE + 7]! ^ 0xff;
  return withFile(bad, async (file) => {
    for (const alg of ['crc32', 'md5'] as const) {
      const c = await checkWholeFile(file, plan, alg, digest);
      assert.ok(c);
      assert.deepEqual(badPieces(c, reported), [1], alg);
      assert.notEqual(c?.blob, digest);
    }
  });
});

test('a file of another size is not taken', () =>
  withFile(bytes.subarray(1), async (file) => {
    assert.equal(await checkWholeFile(file, plan, 'crc32', digest), undefined);
  }));

test('pieces larger and smaller than a read: every boundary lands where the plan says', async () => {
  // 4 MiB reads against 3 MiB and 5 MiB pieces: pieces end mid-read and span reads.
  const big = randomBytes(11 * 1024 * 1024 + 5);
  const d = `sha256:${createHash('sha256').update(big).digest('hex')}`;
  for (const size of [3 * 1024 * 1024, 5 * 1024 * 1024]) {
    const p = planPieces(big.length, size);
    await withFile(big, async (file) => {
      const c = await checkWholeFile(file, p, 'crc32', d);
      assert.ok(c);
      assert.equal(c.blob, d);
      for (let n = 0; n < p.totalPieces; n++) {
        const want = crc32(big.subarray(n * size, Math.min(big.length, (n + 1) * size)));
        assert.equal(c.pieces[n], `crc32:${want.toString(16).padStart(8, '0')}`, `piece ${n} of ${size}`);
      }
    });
  }
});

test('an aborted read stops with the abort reason', () =>
  withFile(bytes, async (file) => {
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await assert.rejects(checkWholeFile(file, plan, 'crc32', digest, ac.signal), /stop/);
  }));
