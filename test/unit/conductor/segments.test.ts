// The segment scheduler over an in-memory site and transport: one stream for the whole blob, runs of
// missing pieces by range, a split when the count asks for more (the first stream stops where the
// second begins), and a refused range after a split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PieceAssembler } from '../../../src/conductor/piece-assembler.js';
import type { PieceSite } from '../../../src/conductor/piece-site.js';
import { ProgressMeter } from '../../../src/conductor/progress.js';
import { pullSegments } from '../../../src/conductor/segments.js';
import type { ConnectionCount } from '../../../src/conductor/connection-tuner.js';
import { RangeNotSupportedError, SizeMismatchError } from '../../../src/core/errors.js';
import { planPieces } from '../../../src/core/piece-plan.js';
import type { ByteRange } from '../../../src/core/types.js';
import type { ChunkSink, PieceTransport, TransportTask } from '../../../src/transport/piece-transport.js';
import type { TaskWriter } from '../../../src/storage/task-writer.js';

const PIECE = 64 * 1024;
const blob = Buffer.alloc(8 * PIECE);
for (let i = 0; i < blob.length; i++) blob[i] = (i * 7) % 256;

/** A site over memory: pieces are assembled for real and recorded in `stored`. */
function memorySite(stored = new Set<number>()) {
  const data = Buffer.alloc(blob.length);
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
  const site: PieceSite = {
    taskId: 't',
    plan: planPieces(blob.length, PIECE),
    concurrency: undefined,
    maxConcurrency: 8,
    attempts: 2,
    backoff: { minDelay: 1, maxDelay: 2, factor: 2, jitter: 0, maxRetryAfter: 0 },
    lowSpeedLimit: 0,
    lowSpeedTime: 0,
    has: (n) => stored.has(n),
    storedCount: () => stored.size,
    writePiece: () => Promise.reject(new Error('not used')),
    assembler: (piece, signal) => new PieceAssembler(piece, { writer, pieceDigest: 'crc32', meter, signal }),
    commit: async (a) => {
      await a.end();
      stored.add(a.piece.num);
    },
    onRetry: () => {},
  };
  return { site, data, stored };
}

/**
 * A transport that sends 16 KiB chunks, yielding to the event loop between them (so that several
 * streams interleave); ranged requests may be refused.
 */
function memoryTransport(o: { refuseRanges?: boolean; extra?: number } = {}) {
  const requests: (ByteRange | undefined)[] = [];
  const stopped: (ByteRange | undefined)[] = [];
  const t: PieceTransport & { streamPiece: NonNullable<PieceTransport['streamPiece']> } = {
    name: 'memory',
    async streamPiece(_task, range, sink: ChunkSink, { signal }) {
      requests.push(range);
      if (range && o.refuseRanges) throw new RangeNotSupportedError('no ranges here');
      const start = range?.start ?? 0;
      const end = range ? range.start + range.length : blob.length;
      try {
        for (let at = start; at < end; at += 16 * 1024) {
          await new Promise<void>((r) => setImmediate(r));
          if (signal?.aborted) throw signal.reason;
          const w = sink(blob.subarray(at, Math.min(end, at + 16 * 1024)));
          if (w) await w;
        }
        if (o.extra) {
          const w = sink(Buffer.alloc(o.extra));
          if (w) await w;
        }
      } catch (e) {
        stopped.push(range);
        throw e;
      }
    },
  };
  return { t, requests, stopped };
}

const task = {} as TransportTask;

/** A count that asks for `to` connections after the first chunk. */
function stepTo(to: number): ConnectionCount & { running(): void } {
  let asked = false;
  return {
    target: 1,
    reason: 'one stream to start',
    running() {},
    record() {
      if (asked) return false;
      asked = true;
      (this as { target: number }).target = to;
      (this as { reason: string }).reason = `test asks for ${to}`;
      return true;
    },
  };
}

test('one stream of the whole blob (no Range) when nothing is stored and nobody asks for more', async () => {
  const { site, data, stored } = memorySite();
  const { t, requests } = memoryTransport();
  const choices: string[] = [];
  await pullSegments(site, t, task, new AbortController().signal, {
    max: 1,
    onChoice: (c) => choices.push(`${c.count}: ${c.reason}`),
  });
  assert.deepEqual(requests, [undefined]);
  assert.equal(stored.size, 8);
  assert.ok(data.equals(blob));
  assert.deepEqual(choices, ['1: one connection (the most allowed)']);
});

test('a resume fetches each run of missing pieces with one ranged request', async () => {
  const { site, data, stored } = memorySite(new Set([0, 1, 4]));
  const { t, requests } = memoryTransport();
  await pullSegments(site, t, task, new AbortController().signal, { max: 1 });
  assert.deepEqual(requests, [
    { start: 2 * PIECE, length: 2 * PIECE },
    { start: 5 * PIECE, length: 3 * PIECE },
  ]);
  assert.equal(stored.size, 8);
  assert.ok(data.subarray(2 * PIECE, 4 * PIECE).equals(blob.subarray(2 * PIECE, 4 * PIECE)));
  assert.ok(data.subarray(5 * PIECE).equals(blob.subarray(5 * PIECE)));
  assert.equal(
    data.subarray(4 * PIECE, 5 * PIECE).every((b) => b === 0),
    true,
    'a stored piece is not fetched again',
  );
});

test('asked for two connections, the largest segment is split: the first stream stops where the second begins', async () => {
  const { site, data, stored } = memorySite();
  const { t, requests, stopped } = memoryTransport();
  await pullSegments(site, t, task, new AbortController().signal, { max: 8, tuner: stepTo(2) });
  assert.equal(requests.length, 2);
  assert.equal(requests[0], undefined, 'the first stream: the whole blob');
  const second = requests[1]!;
  assert.equal(second.start % PIECE, 0);
  assert.equal(second.start + second.length, blob.length, 'the second half, to the end');
  assert.deepEqual(stopped, [undefined], 'the first stream was stopped at the split');
  assert.equal(stored.size, 8);
  assert.ok(data.equals(blob));
});

test('a range refused after a split stops splitting; the whole-blob stream it was cut from carries on over that half (nothing sent twice)', async () => {
  const { site, data, stored } = memorySite();
  const { t, requests, stopped } = memoryTransport({ refuseRanges: true });
  await pullSegments(site, t, task, new AbortController().signal, { max: 8, tuner: stepTo(2) });
  assert.equal(stored.size, 8);
  assert.ok(data.equals(blob));
  // The whole stream, the refused half; no third request for the bytes the first one carried on with.
  assert.equal(requests.length, 2);
  assert.equal(requests[0], undefined);
  assert.deepEqual(stopped, [], 'the whole stream was never stopped at the split');
});

test('a range refused after a split, where no stream reaches over the half, is reported for a sequential pull', async () => {
  // Pieces 0-1 stored: the first request is ranged (it ends where the run ends), so a half cut from it
  // that is refused has no stream to carry it.
  const { site, stored } = memorySite(new Set([0, 1]));
  const { t } = memoryTransport({ refuseRanges: true });
  await assert.rejects(
    pullSegments(site, t, task, new AbortController().signal, { max: 8, tuner: stepTo(2) }),
    RangeNotSupportedError,
  );
  assert.equal(stored.size, 2, 'a refused range stores nothing');
});

test('more bytes than the blob, in a chunk of their own or with the last piece, are a size error', async () => {
  for (const extra of [4096]) {
    const { site } = memorySite();
    const { t } = memoryTransport({ extra });
    await assert.rejects(pullSegments(site, t, task, new AbortController().signal, { max: 1 }), SizeMismatchError);
  }
});

test('a stream that breaks after each piece it stores is not out of attempts: only breaks in a row without a stored piece count', async () => {
  // attempts: 2 in memorySite; this stream breaks 8 times, each after one more whole piece.
  const { site, data, stored } = memorySite();
  let breaks = 0;
  const t: PieceTransport & { streamPiece: NonNullable<PieceTransport['streamPiece']> } = {
    name: 'flaky',
    async streamPiece(_task, range, sink: ChunkSink) {
      const start = range?.start ?? 0;
      const end = Math.min(range ? range.start + range.length : blob.length, start + PIECE);
      const w = sink(blob.subarray(start, end));
      if (w) await w;
      if (end < blob.length) {
        breaks++;
        throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
      }
    },
  };
  await pullSegments(site, t, task, new AbortController().signal, { max: 1, tuner: stepTo(1) });
  assert.equal(stored.size, 8);
  assert.equal(breaks, 7);
  assert.ok(data.equals(blob));
  // Breaking without storing anything still fails after the attempts.
  const stuck = memorySite();
  const never: PieceTransport & { streamPiece: NonNullable<PieceTransport['streamPiece']> } = {
    name: 'never',
    async streamPiece() {
      throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
    },
  };
  await assert.rejects(
    pullSegments(stuck.site, never, task, new AbortController().signal, { max: 1, tuner: stepTo(1) }),
    /connection reset/,
  );
});

test('asked for more connections than there is anything to split, the count settles at what runs and says so', async () => {
  // One piece missing: a second connection has nothing to take.
  const { site, data, stored } = memorySite(new Set([0, 1, 2, 3, 4, 5, 6]));
  const { t } = memoryTransport();
  const capped: number[] = [];
  const base = stepTo(2);
  const tuner = Object.assign(base, {
    capped(n: number) {
      capped.push(n);
      (base as { target: number }).target = n;
      (base as { reason: string }).reason = `kept ${n}: nothing left to split`;
    },
  });
  const choices: string[] = [];
  await pullSegments(site, t, task, new AbortController().signal, {
    max: 8,
    tuner,
    onChoice: (c) => choices.push(`${c.count}: ${c.reason}`),
  });
  assert.equal(stored.size, 8);
  assert.ok(data.subarray(7 * PIECE).equals(blob.subarray(7 * PIECE)));
  assert.deepEqual(capped, [1]);
  assert.equal(choices.at(-1), '1: kept 1: nothing left to split');
});
