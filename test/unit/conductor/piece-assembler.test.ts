import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PieceAssembler } from '../../../src/conductor/piece-assembler.js';
import { ProgressMeter } from '../../../src/conductor/progress.js';
import { createPieceHasher } from '../../../src/storage/piece-digest.js';
import { SizeMismatchError } from '../../../src/core/errors.js';
import type { TaskWriter } from '../../../src/storage/task-writer.js';

/** An in-memory writer: what the assembler wrote, where. */
function memoryWriter(size: number): { writer: TaskWriter; data: Buffer } {
  const data = Buffer.alloc(size);
  const writer = {
    async write(chunk: Uint8Array | readonly Uint8Array[], position: number) {
      let at = position;
      for (const c of Array.isArray(chunk) ? chunk : [chunk as Uint8Array]) {
        data.set(c, at);
        at += c.length;
      }
    },
  } as unknown as TaskWriter;
  return { writer, data };
}

const piece = { num: 1, range: { start: 100, length: 50 } };

test("chunks are written at the piece's offset and digested; progress counts the stored piece", async () => {
  const { writer, data } = memoryWriter(200);
  const events: number[] = [];
  const meter = new ProgressMeter('t', 200, 0, (p) => events.push(p.transferred));
  const a = new PieceAssembler(piece, { writer, pieceDigest: 'crc32', meter, signal: new AbortController().signal });
  const bytes = Buffer.alloc(50, 3);
  await a.push(bytes.subarray(0, 20));
  await a.push(bytes.subarray(20));
  const { digest } = await a.end();
  const h = createPieceHasher('crc32');
  h.update(bytes);
  assert.equal(digest, h.digest());
  assert.ok(data.subarray(100, 150).equals(bytes));
  assert.equal(meter.stored, 50);
});

test('more bytes than the piece, or fewer at the end, are a SizeMismatchError; an aborted signal stops a push', async () => {
  const { writer } = memoryWriter(200);
  const meter = new ProgressMeter('t', 200, 0, () => {});
  const long = new PieceAssembler(piece, { writer, pieceDigest: 'crc32', meter, signal: new AbortController().signal });
  await assert.rejects(long.push(Buffer.alloc(51)), SizeMismatchError);
  const short = new PieceAssembler(piece, {
    writer,
    pieceDigest: 'crc32',
    meter,
    signal: new AbortController().signal,
  });
  await short.push(Buffer.alloc(10));
  await assert.rejects(short.end(), SizeMismatchError);
  short.release();
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  const stopped = new PieceAssembler(piece, { writer, pieceDigest: 'crc32', meter, signal: ac.signal });
  await assert.rejects(stopped.push(Buffer.alloc(1)), /stop/);
});
