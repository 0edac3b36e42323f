import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { chunksOf } from '../../../src/internal/chunks.js';

test('chunksOf hands on each chunk as pushed (no concatenation) and ends with the stream', async () => {
  const parts = [Buffer.from('a'), Buffer.from('bb'), Buffer.from('ccc')];
  const r = new Readable({ read() {} });
  for (const p of parts) r.push(p);
  r.push(null);
  const got: Buffer[] = [];
  for await (const c of chunksOf(r)) got.push(Buffer.from(c));
  assert.deepEqual(got.map(String), ['a', 'bb', 'ccc']);
});

test('chunksOf applies backpressure, reports errors, and destroys the stream when the consumer stops', async () => {
  let reads = 0;
  const r = new Readable({
    read() {
      reads++;
      this.push(Buffer.alloc(1024));
    },
  });
  let taken = 0;
  for await (const _ of chunksOf(r)) if (++taken === 20) break;
  assert.equal(r.destroyed, true);
  assert.ok(reads < 200, `the source was read ${reads} times for 20 chunks`);
  const failing = new Readable({ read() {} });
  const it = chunksOf(failing)[Symbol.asyncIterator]();
  const next = it.next();
  failing.destroy(new Error('boom'));
  await assert.rejects(next, /boom/);
});
