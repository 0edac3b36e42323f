// The piece schedule (schedule.ts) as the conductor drives it, over in-process transports and a real
// store: the concurrency bound, retries of a failing piece, the whole-blob stream for one connection,
// and the switch to one sequential stream when the origin loses Range support.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PeerTaskConductor } from '../../../src/conductor/peer-task-conductor.js';
import { RangeNotSupportedError, NetworkError } from '../../../src/core/errors.js';
import { planPieces } from '../../../src/core/piece-plan.js';
import type { PieceInfo } from '../../../src/core/piece-plan.js';
import type { PieceTransport } from '../../../src/transport/piece-transport.js';
import { makeStore } from '../storage/store-fixture.js';

const data = Buffer.from(Array.from({ length: 64 * 1024 * 5 }, (_, i) => i % 251));
const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
const target = { url: 'oras://r/x:v1', digest, size: data.length, mediaType: 'x' };

async function* body(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

async function run(t: { after(fn: () => Promise<void> | void): void }, transport: PieceTransport, concurrency: number) {
  const { store } = await makeStore(t);
  const plan = planPieces(data.length, 64 * 1024);
  const r = await store.beginTask({
    taskId: 'c'.repeat(64),
    peerId: '127.0.0.1-1-sched',
    digest,
    contentLength: data.length,
    pieceSize: plan.pieceSize,
  });
  assert.ok('writer' in r);
  if (!('writer' in r)) throw new Error('unreachable');
  const c = new PeerTaskConductor({
    taskId: 'c'.repeat(64),
    peerId: '127.0.0.1-1-sched',
    target,
    plan,
    writer: r.writer,
    transport,
    options: { concurrency, retryMinDelay: 1, retryMaxDelay: 2 },
  });
  return c.run();
}

test('ranged pieces: never more in flight than the concurrency; a piece that fails once is retried', async (t) => {
  let inflight = 0;
  let peak = 0;
  let failedOnce = false;
  const calls: number[] = [];
  const transport: PieceTransport = {
    name: 'mem',
    supportsRange: async () => true,
    readPiece: async (_t, p: PieceInfo) => {
      calls.push(p.num);
      if (p.num === 2 && !failedOnce) {
        failedOnce = true;
        throw new NetworkError('reset');
      }
      inflight++;
      peak = Math.max(peak, inflight);
      await new Promise((r) => setImmediate(r));
      inflight--;
      return body(data.subarray(p.range.start, p.range.start + p.range.length));
    },
  };
  const entry = await run(t, transport, 2);
  assert.equal(entry.digest, digest);
  assert.ok(peak <= 2, `peak ${peak}`);
  assert.equal(calls.filter((n) => n === 2).length, 2, 'piece 2 was asked twice');
});

test('one connection and a transport that prefers it: one sequential stream, no piece requests', async (t) => {
  let pieces = 0;
  let streams = 0;
  const transport: PieceTransport = {
    name: 'mem',
    wholeStreamPreferred: true,
    supportsRange: async () => true,
    readPiece: async () => {
      pieces++;
      throw new Error('not expected');
    },
    readSequential: async () => {
      streams++;
      return body(data);
    },
  };
  const entry = await run(t, transport, 1);
  assert.equal(entry.digest, digest);
  assert.deepEqual([pieces, streams], [0, 1]);
});

test('an origin that loses Range support mid-task is read as one sequential stream instead', async (t) => {
  let streams = 0;
  const transport: PieceTransport = {
    name: 'mem',
    supportsRange: async () => true,
    readPiece: async (_t, p: PieceInfo) => {
      if (p.num >= 1) throw new RangeNotSupportedError('the server ignored Range (200)');
      return body(data.subarray(p.range.start, p.range.start + p.range.length));
    },
    readSequential: async () => {
      streams++;
      return body(data);
    },
  };
  const entry = await run(t, transport, 2);
  assert.equal(entry.digest, digest);
  assert.equal(streams, 1);
});
