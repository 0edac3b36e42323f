import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BATCH_BYTES, PieceAssembler } from '../../../src/conductor/piece-assembler.js';
import { ProgressMeter } from '../../../src/conductor/progress.js';
import { createPieceHasher } from '../../../src/storage/piece-digest.js';
import { DigestMismatchError, SizeMismatchError } from '../../../src/core/errors.js';
import type { TaskWriter } from '../../../src/storage/task-writer.js';

/** An in-memory writer: what the assembler wrote, where. */
function memoryWriter(size: number): { writer: TaskWriter; data: Buffer; writes: number[] } {
  const data = Buffer.alloc(size);
  const writes: number[] = [];
  const writer = {
    async write(chunk: Uint8Array | readonly Uint8Array[], position: number) {
      writes.push(
        Array.isArray(chunk)
          ? chunk.reduce((n: number, c: Uint8Array) => n + c.length, 0)
          : (chunk as Uint8Array).length,
      );
      let at = position;
      for (const c of Array.isArray(chunk) ? chunk : [chunk as Uint8Array]) {
        data.set(c, at);
        at += c.length;
      }
    },
  } as unknown as TaskWriter;
  return { writer, data, writes };
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
  assert.throws(() => long.push(Buffer.alloc(51)), SizeMismatchError);
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
  assert.throws(() => stopped.push(Buffer.alloc(1)), /stop/);
});

test('an abort that lands while a whole piece is being written keeps the piece: end() returns its digest', async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const writer = { write: () => held } as unknown as TaskWriter;
  const meter = new ProgressMeter('t', 200, 0, () => {});
  const ac = new AbortController();
  const a = new PieceAssembler(piece, { writer, pieceDigest: 'crc32', meter, signal: ac.signal });
  void a.push(Buffer.alloc(50, 7));
  const ended = a.end();
  ac.abort(new Error('Ctrl-C'));
  release();
  const h = createPieceHasher('crc32');
  h.update(Buffer.alloc(50, 7));
  assert.equal((await ended).digest, h.digest());
  assert.equal(meter.stored, 50);
});

test('16 KiB chunks (TLS records) are gathered into writes of BATCH_BYTES, the caller waiting at most once per write', async () => {
  const size = 3 * BATCH_BYTES + 1000;
  const { writer, data, writes } = memoryWriter(size);
  const meter = new ProgressMeter('t', size, 0, () => {});
  const big = { num: 0, range: { start: 0, length: size } };
  const a = new PieceAssembler(big, { writer, pieceDigest: 'crc32', meter, signal: new AbortController().signal });
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = i % 251;
  let waits = 0;
  let chunks = 0;
  for (let at = 0; at < size; at += 16 * 1024, chunks++) {
    const wait = a.push(bytes.subarray(at, at + 16 * 1024));
    if (wait) {
      waits++;
      await wait;
    }
  }
  await a.end();
  assert.deepEqual(writes, [BATCH_BYTES, BATCH_BYTES, BATCH_BYTES, 1000]);
  assert.ok(data.equals(bytes));
  assert.ok(chunks > 4 * writes.length, 'several chunks per write');
  assert.ok(waits <= writes.length, `the caller waited ${waits} times for ${writes.length} writes`);
});

test("a sender's digest in another algorithm than the store's is still checked: a daemon's crc32 against an md5 store", async () => {
  const bytes = Buffer.alloc(50, 9);
  const crc = createPieceHasher('crc32');
  crc.update(bytes);
  const right = crc.digest();
  const wrong = 'crc32:00000001';
  for (const [reported, ok] of [
    [right, true],
    [wrong, false],
  ] as const) {
    const { writer } = memoryWriter(200);
    const meter = new ProgressMeter('t', 200, 0, () => {});
    const a = new PieceAssembler(piece, {
      writer,
      pieceDigest: 'md5',
      meter,
      reported,
      signal: new AbortController().signal,
    });
    await a.push(bytes);
    if (ok) assert.match((await a.end(reported)).digest, /^md5:[0-9a-f]{32}$/, 'the store keeps its own algorithm');
    else await assert.rejects(a.end(reported), DigestMismatchError);
  }
});
