import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkPool } from '../../../src/internal/chunk-pool.js';

test('a buffer is reused only after its last holder lets go', () => {
  const pool = new ChunkPool({ bufferBytes: 16 });
  const a = pool.take();
  assert.equal(a.length, 16);
  const head = a.subarray(0, 4);
  const tail = a.subarray(4, 16);
  pool.retain(head);
  pool.retain(tail);
  pool.release(a); // the reader is done with it; two views are still held
  assert.equal(pool.lent, 1);
  assert.notEqual(pool.take().buffer, a.buffer, 'a held buffer was handed out again');
  pool.release(head);
  pool.release(tail);
  const again = pool.take();
  assert.equal(again.buffer, a.buffer, 'a free buffer was not reused');
  assert.equal(again.length, 16, 'the reused buffer is whole again');
});

test('chunks that are not from the pool pass through retain and release untouched', () => {
  const pool = new ChunkPool({ bufferBytes: 16 });
  const foreign = new Uint8Array(8);
  pool.retain(foreign);
  pool.release(foreign);
  pool.release(foreign);
  assert.equal(pool.lent, 0);
  const b = pool.take();
  assert.notEqual(b.buffer, foreign.buffer);
});

test('at most `keep` free buffers are kept', () => {
  const pool = new ChunkPool({ bufferBytes: 16, keep: 2 });
  const taken = [pool.take(), pool.take(), pool.take()];
  for (const b of taken) pool.release(b);
  const reused = new Set([pool.take(), pool.take(), pool.take()].map((b) => b.buffer));
  const old = new Set(taken.map((b) => b.buffer));
  assert.equal([...reused].filter((b) => old.has(b)).length, 2);
  assert.equal(pool.lent, 3);
});
