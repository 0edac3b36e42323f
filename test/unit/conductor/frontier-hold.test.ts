import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrontierHold } from '../../../src/conductor/frontier-hold.js';
import { ChunkPool } from '../../../src/internal/chunk-pool.js';

function setup(limit = 100): { pool: ChunkPool; hold: FrontierHold; buf: Uint8Array } {
  const pool = new ChunkPool({ bufferBytes: 1000 });
  const hold = new FrontierHold(pool, limit);
  const buf = pool.take();
  return { pool, hold, buf };
}

test('chunks are kept by offset within the bound, and handed out at the frontier only', () => {
  const { pool, hold, buf } = setup(100);
  assert.equal(hold.add(7, 50, buf.subarray(50, 90)), true);
  assert.equal(hold.add(7, 10, buf.subarray(10, 50)), true);
  assert.equal(hold.add(7, 90, buf.subarray(90, 121)), false, 'over the bound: not kept');
  assert.equal(hold.bytes, 80);
  pool.release(buf);
  assert.equal(pool.lent, 1, 'kept views hold their buffer');
  const any = (): boolean => true;
  assert.equal(hold.take(0, any), undefined);
  assert.equal(hold.nextAt(0), 10);
  assert.equal(
    hold.take(10, () => false),
    undefined,
    'a piece the caller may not use yet stays',
  );
  const first = hold.take(10, any)!;
  assert.equal(first.chunk.length, 40);
  hold.done(first.chunk);
  const second = hold.take(50, any)!;
  assert.equal(second.piece, 7);
  hold.done(second.chunk);
  assert.equal(hold.bytes, 0);
  assert.equal(pool.lent, 0);
});

test('a failed piece, bytes the frontier passed, and clear() all let go of their memory', () => {
  const { pool, hold, buf } = setup(1000);
  hold.add(1, 100, buf.subarray(100, 200));
  hold.add(2, 200, buf.subarray(200, 300));
  hold.add(3, 300, buf.subarray(300, 400));
  hold.add(4, 400, buf.subarray(400, 500));
  pool.release(buf);
  hold.dropPiece(2);
  assert.equal(hold.bytes, 300);
  // The frontier went to 350 another way: the chunk before it and the one straddling it are useless.
  assert.equal(hold.nextAt(350), 400);
  assert.equal(hold.bytes, 100);
  hold.clear();
  assert.equal(hold.bytes, 0);
  assert.equal(pool.lent, 0);
});
