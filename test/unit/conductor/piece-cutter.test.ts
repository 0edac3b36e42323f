import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CUT_DONE, PieceCutter } from '../../../src/conductor/piece-cutter.js';
import { PieceAssembler } from '../../../src/conductor/piece-assembler.js';
import type { PieceSite } from '../../../src/conductor/piece-site.js';
import { ProgressMeter } from '../../../src/conductor/progress.js';
import { SizeMismatchError } from '../../../src/core/errors.js';
import { planPieces, type PieceInfo } from '../../../src/core/piece-plan.js';
import type { TaskWriter } from '../../../src/storage/task-writer.js';

const PIECE = 1000;
const blob = Buffer.alloc(4 * PIECE);
for (let i = 0; i < blob.length; i++) blob[i] = i % 253;

/** A site over memory that records which pieces were committed, in order. */
function site(stored: number[] = []) {
  const data = Buffer.alloc(blob.length);
  const committed: number[] = [];
  const writer = {
    async write(chunk: Uint8Array | readonly Uint8Array[], position: number) {
      let at = position;
      for (const c of Array.isArray(chunk) ? chunk : [chunk as Uint8Array]) {
        data.set(c, at);
        at += c.length;
      }
    },
  } as unknown as TaskWriter;
  const meter = new ProgressMeter('t', blob.length, 0, () => {});
  const s = {
    plan: planPieces(blob.length, PIECE),
    has: (n: number) => stored.includes(n),
    assembler: (piece, signal) => new PieceAssembler(piece, { writer, pieceDigest: 'crc32', meter, signal }),
    commit: async (a: PieceAssembler) => {
      await a.end();
      committed.push(a.piece.num);
    },
  } as PieceSite;
  return { s, data, committed };
}

/** Pushes `bytes` in chunks of `size`, waiting when asked. */
async function feed(cutter: PieceCutter, bytes: Buffer, size: number) {
  for (let at = 0; at < bytes.length; at += size) {
    const w = cutter.push(bytes.subarray(at, at + size));
    if (w) await w;
  }
}

test('chunks that straddle piece edges become whole pieces, committed in order; stored ones are skipped when asked', async () => {
  const { s, data, committed } = site([1]);
  const cursor = { next: 0, end: 4 };
  await feed(new PieceCutter(s, cursor, new AbortController().signal, { skipStored: true }), blob, 700);
  assert.deepEqual(committed, [0, 2, 3]);
  assert.equal(cursor.next, 4);
  assert.ok(data.subarray(0, PIECE).equals(blob.subarray(0, PIECE)));
  assert.ok(data.subarray(2 * PIECE).equals(blob.subarray(2 * PIECE)));
  assert.equal(
    data.subarray(PIECE, 2 * PIECE).every((b) => b === 0),
    true,
    'the stored piece is not rewritten',
  );
});

test('an end moved closer stops the stream there (CUT_DONE); bytes past the requested end are a size error', async () => {
  const moved = site();
  const cursor = { next: 0, end: 4 };
  const cutter = new PieceCutter(moved.s, cursor, new AbortController().signal);
  cursor.end = 2; // split meanwhile
  await assert.rejects(feed(cutter, blob, 700), (e) => e === CUT_DONE);
  assert.deepEqual(moved.committed, [0, 1]);
  assert.equal(cutter.overran, false);

  const long = site();
  const over = new PieceCutter(long.s, { next: 2, end: 4 }, new AbortController().signal);
  await assert.rejects(feed(over, Buffer.concat([blob.subarray(2 * PIECE), Buffer.alloc(10)]), 700), SizeMismatchError);
  assert.equal(over.overran, true);
  assert.deepEqual(long.committed, [2, 3]);
});

test("a cutter released while a piece's commit waits on its write leaves the cursor where the retry starts", async () => {
  let finishWrite!: () => void;
  const writer = {
    write: () => new Promise<void>((resolve) => (finishWrite = resolve)),
  } as unknown as TaskWriter;
  const meter = new ProgressMeter('t', blob.length, 0, () => {});
  const made: number[] = [];
  const s = {
    plan: planPieces(blob.length, PIECE),
    has: () => false,
    assembler: (piece: PieceInfo, signal: AbortSignal) => {
      made.push(piece.num);
      return new PieceAssembler(piece, { writer, pieceDigest: 'crc32', meter, signal });
    },
    commit: async (a: PieceAssembler) => void (await a.end()),
  } as unknown as PieceSite;
  const cursor = { next: 0, end: 4 };
  const cutter = new PieceCutter(s, cursor, new AbortController().signal);
  // Piece 0 whole and 200 bytes of piece 1: the commit of piece 0 waits on its write.
  const pending = cutter.push(blob.subarray(0, PIECE + 200));
  assert.ok(pending, 'the stream waits for the commit');
  cutter.release(); // the stream failed meanwhile: a retry starts from cursor.next
  finishWrite();
  await pending;
  assert.equal(cursor.next, 0, 'the stale continuation did not move the cursor');
  assert.deepEqual(made, [0], 'and made no assembler nobody would release');
});
