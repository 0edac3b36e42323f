import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { PeerTaskConductor, type ProgressEvent } from '../../../src/conductor/peer-task-conductor.js';
import { planPieces, type PieceInfo } from '../../../src/core/piece-plan.js';
import { StorageManager } from '../../../src/storage/storage-manager.js';
import type { PieceSink, PieceTransport, TransportTask } from '../../../src/transport/piece-transport.js';
import {
  DigestMismatchError,
  NetworkError,
  RangeNotSupportedError,
  TaskFailedError,
} from '../../../src/core/errors.js';
import { VERSION } from '../../../src/version.js';
import { conductorRig } from './conductor-rig.js';

// In-process transports over a buffer: unit tests of the conductor's scheduling and checks.
// End-to-end behaviour against the real registry is in test/integration/conductor.

async function* chunks(buf: Buffer, size = 65536): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, Math.min(buf.length, i + size));
}

test('a push transport may deliver pieces in any order; the blob is verified and stored', async (t) => {
  const blob = randomBytes(5 * 65536 + 123);
  const order = [5, 2, 0, 4, 1, 3];
  const push: PieceTransport = {
    name: 'shuffled',
    async drive(task: TransportTask, sink: PieceSink) {
      for (const n of order) {
        const start = n * task.plan.pieceSize;
        await sink.writePiece(
          n,
          chunks(blob.subarray(start, Math.min(blob.length, start + task.plan.pieceSize)), 1000),
        );
      }
    },
  };
  const { conductor: c } = await conductorRig(t, {
    blob,
    pieceSize: 65536,
    transport: push,
    options: { progressInterval: 0 },
  });
  const progress: ProgressEvent[] = [];
  const states: string[] = [];
  c.on('progress', (p) => progress.push(p));
  c.on('state', (st) => states.push(st));
  const entry = await c.run();
  assert.deepEqual(await readFile(entry.dataFilePath), blob);
  assert.deepEqual(states, ['running', 'completing', 'succeeded']);
  for (let i = 1; i < progress.length; i++)
    assert.ok(progress[i]!.transferred >= progress[i - 1]!.transferred, 'monotonic');
  assert.equal(progress.at(-1)!.percent, 100);
  assert.equal(progress.at(-1)!.transferred, blob.length);
});

test('pieces a failing push transport leaves are fetched from the fallback', async (t) => {
  const blob = randomBytes(4 * 4096);
  const push: PieceTransport = {
    name: 'broken-cluster',
    async drive(_t, sink) {
      await sink.writePiece(1, chunks(blob.subarray(4096, 8192)));
      throw new Error('daemon went away');
    },
  };
  const asked: number[] = [];
  const origin: PieceTransport = {
    name: 'origin',
    async readPiece(_t, p: PieceInfo) {
      asked.push(p.num);
      return chunks(blob.subarray(p.range.start, p.range.start + p.range.length));
    },
  };
  const { conductor: c } = await conductorRig(t, { blob, pieceSize: 4096, transport: push, fallbackTransport: origin });
  const entry = await c.run();
  assert.deepEqual(asked.sort(), [0, 2, 3]);
  assert.deepEqual(await readFile(entry.dataFilePath), blob);
});

test('transient piece errors are retried; wrong bytes fail with a digest error and leave no data', async (t) => {
  const blob = randomBytes(3 * 4096);
  let failures = 2;
  const retries: number[] = [];
  const flaky: PieceTransport = {
    name: 'flaky',
    async readPiece(_t, p) {
      if (p.num === 1 && failures-- > 0) throw new NetworkError('socket hang up');
      const bytes = Buffer.from(blob.subarray(p.range.start, p.range.start + p.range.length));
      if (p.num === 2) bytes[7]! ^= 0xff;
      return chunks(bytes);
    },
  };
  const { conductor: c, writer } = await conductorRig(t, {
    blob,
    pieceSize: 4096,
    transport: flaky,
    options: { retryMinDelay: 1, retryMaxDelay: 2 },
  });
  c.on('retry', (r) => retries.push(r.num as number));
  await assert.rejects(c.run(), DigestMismatchError);
  assert.deepEqual(retries, [1, 1]);
  assert.equal(c.state, 'failed');
  await assert.rejects(readFile(writer.dataFilePath), { code: 'ENOENT' });
});

test('a short piece body is a size error, retried, and finally a task failure with its cause', async (t) => {
  const blob = randomBytes(2 * 4096);
  const short: PieceTransport = {
    name: 'short',
    readPiece: async (_t, p) => chunks(blob.subarray(p.range.start, p.range.start + 100)),
  };
  const { conductor: c } = await conductorRig(t, {
    blob,
    pieceSize: 4096,
    transport: short,
    options: { pieceRetries: 2, retryMinDelay: 1 },
  });
  await assert.rejects(
    c.run(),
    (e: unknown) => e instanceof TaskFailedError && /size mismatch/.test(e.message) && e.cause !== undefined,
  );
});

test('progress moves inside a piece and never goes back, even when a piece fails half-way', async (t) => {
  const blob = randomBytes(2 * 65536);
  let failedOnce = false;
  const slow: PieceTransport = {
    name: 'slow',
    async readPiece(_t, p) {
      const bytes = blob.subarray(p.range.start, p.range.start + p.range.length);
      if (p.num === 1 && !failedOnce) {
        failedOnce = true;
        return (async function* () {
          yield bytes.subarray(0, 30000);
          throw new NetworkError('reset mid-piece');
        })();
      }
      return chunks(bytes, 8192);
    },
  };
  const { conductor: c } = await conductorRig(t, {
    blob,
    pieceSize: 65536,
    transport: slow,
    options: { progressInterval: 0, concurrency: 1, retryMinDelay: 1 },
  });
  const seen: number[] = [];
  c.on('progress', (p) => seen.push(p.transferred));
  await c.run();
  assert.ok(
    seen.some((v) => v > 0 && v < 65536),
    'progress inside the first piece',
  );
  for (let i = 1; i < seen.length; i++)
    assert.ok(seen[i]! >= seen[i - 1]!, `monotonic at ${i}: ${seen[i - 1]} → ${seen[i]}`);
  assert.equal(seen.at(-1), blob.length);
});

test('an origin that stops honouring Range mid-task is finished with one sequential stream', async (t) => {
  const blob = randomBytes(9 * 4096 + 17);
  let sequentialReads = 0;
  const fickle: PieceTransport = {
    name: 'fickle',
    supportsRange: async () => true, // the probe says yes…
    async readPiece(_t, p) {
      if (p.num >= 2) throw new RangeNotSupportedError('200 to a ranged request'); // …then it stops
      return chunks(blob.subarray(p.range.start, p.range.start + p.range.length));
    },
    async readSequential() {
      sequentialReads++;
      return chunks(blob, 5000);
    },
  };
  const { conductor: c } = await conductorRig(t, {
    blob,
    pieceSize: 4096,
    transport: fickle,
    options: { concurrency: 2 },
  });
  const entry = await c.run();
  assert.equal(sequentialReads, 1);
  assert.deepEqual(await readFile(entry.dataFilePath), blob);
});

test('VERSION matches package.json', async () => {
  const pkg = JSON.parse(await readFile(path.join(process.cwd(), 'package.json'), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
});

test('the blob hash worker runs whatever the parent module type (CommonJS, or --input-type=module)', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-worker-'));
  try {
    const file = path.join(dir, 'blob');
    const bytes = randomBytes(3 * 1024 * 1024 + 5);
    await writeFile(file, bytes);
    const expected = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const verifier = new URL('../../../src/conductor/blob-verifier.js', import.meta.url).href;
    const code =
      `const { BlobVerifier } = await import(${JSON.stringify(verifier)}); const ` +
      `v = new BlobVerifier(${JSON.stringify(file)}, ${bytes.length}, ${JSON.stringify(expected)}, ` +
      `{ useWorker: true }); v.advance(${bytes.length}); console.log(await v.result());`;
    for (const args of [
      ['--input-type=module', '-e', code],
      ['-e', `import(${JSON.stringify('data:text/javascript,' + encodeURIComponent(code))})`],
    ]) {
      const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
      assert.equal(r.stdout.trim(), expected, r.stderr);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a piece whose bytes stop coming is aborted by the low-speed rule, retried, then fails the task with the stall as cause', async (t) => {
  const blob = randomBytes(2 * 4096);
  let calls = 0;
  const stuck: PieceTransport = {
    name: 'stuck',
    async readPiece(_t, p) {
      calls++;
      // Piece 0 sends 10 bytes and then nothing, ignoring the signal (the watch must end it anyway).
      if (p.num === 0) {
        return (async function* () {
          yield blob.subarray(0, 10);
          await new Promise(() => {});
        })();
      }
      return chunks(blob.subarray(p.range.start, p.range.start + p.range.length));
    },
  };
  // A real stuck socket keeps the process alive; this fake's pending promise does not (the watch's timer is unref'd).
  const socketStandIn = setInterval(() => {}, 1000);
  t.after(() => clearInterval(socketStandIn));
  const retries: unknown[] = [];
  const { conductor: c, writer } = await conductorRig(t, {
    blob,
    pieceSize: 4096,
    transport: stuck,
    // A window long enough that piece 1's write and commit (watched too) never look like a stall on a
    // slow machine; only piece 0's retries are counted.
    options: { lowSpeedLimit: 1024, lowSpeedTime: 200, pieceRetries: 2, retryMinDelay: 1, retryMaxDelay: 2 },
  });
  c.on('retry', (r) => r.num === 0 && retries.push(r.error));
  await assert.rejects(
    c.run(),
    (e: unknown) => e instanceof TaskFailedError && /piece 0 stalled: \d+ bytes in 0.2 s/.test(e.message),
  );
  assert.equal(retries.length, 1, 'one retry of piece 0, then the task failed');
  assert.match(String((retries[0] as Error).message), /stalled/);
  assert.ok(calls >= 2);
  // A failed task keeps what it verified (piece 1) for the next pull to resume from.
  assert.ok((await readFile(writer.dataFilePath)).subarray(4096).equals(blob.subarray(4096)));
});

test('pieces are scheduled as slots free up: a plan of 20 million pieces costs no memory before bytes arrive', async () => {
  const n = 20_000_000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-cond-'));
  const storage = await StorageManager.open({ dataPath: dir });
  try {
    const digest = `sha256:${'0'.repeat(64)}`;
    const taskId = createHash('sha256').update('huge-plan').digest('hex');
    const begun = await storage.beginTask({
      taskId,
      peerId: '127.0.0.1-1-huge',
      digest,
      contentLength: n,
      pieceSize: 1,
    });
    assert.ok('writer' in begun);
    let calls = 0;
    const failing: PieceTransport = {
      name: 'failing',
      async readPiece() {
        calls++;
        throw new RangeNotSupportedError('no');
      },
      async readSequential() {
        throw new NetworkError('the origin is gone');
      },
    };
    const before = process.memoryUsage().heapUsed;
    const c = new PeerTaskConductor({
      taskId,
      peerId: 'p',
      target: { url: 'oras://h/r:t', digest, size: n, mediaType: 'x' },
      plan: planPieces(n, 1),
      writer: begun.writer,
      transport: failing,
      options: { concurrency: 4, pieceRetries: 1 },
    });
    await assert.rejects(c.run(), TaskFailedError);
    // Only the workers that ran asked for a piece; a per-piece job list would have been ~20 M closures (GBs).
    assert.ok(calls <= 4, `${calls} piece requests`);
    assert.ok(process.memoryUsage().heapUsed - before < 64 * 1024 * 1024, 'heap did not grow with the plan');
  } finally {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  }
});
