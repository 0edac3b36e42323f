// One task's run over an in-process resource client and a real store in a temp dir: a new task is
// downloaded, a stored one reused, and a cluster's wrong bytes are discarded for the origin's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { runTask, type TaskRunContext, type TaskRunRequest } from '../../../src/conductor/task-run.js';
import { planPieces } from '../../../src/core/piece-plan.js';
import { CoreLogger } from '../../../src/log/core-log.js';
import { StorageManager } from '../../../src/storage/storage-manager.js';
import type { BlobRead, BlobTarget, ResolvedResource, ResourceClient } from '../../../src/source/resource-client.js';
import type { ByteRange } from '../../../src/core/types.js';
import type { PieceTransport } from '../../../src/transport/piece-transport.js';

const data = Buffer.alloc(200_000, 3);
const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
const resolved: ResolvedResource = {
  url: 'mem://x/img:v1',
  resolvedUrl: 'mem://x/img:v1',
  digest,
  size: data.length,
  mediaType: 'application/octet-stream',
  manifestDigest: `sha256:${'a'.repeat(64)}`,
};

class MemoryClient implements ResourceClient {
  reads = 0;
  async resolve(): Promise<ResolvedResource> {
    return resolved;
  }
  async supportsRange(): Promise<boolean> {
    return true;
  }
  async read(_t: BlobTarget, range?: ByteRange): Promise<BlobRead> {
    this.reads++;
    const r = range ?? { start: 0, length: data.length };
    return { body: Readable.from([data.subarray(r.start, r.start + r.length)]), range: r };
  }
}

async function rig(t: { after(fn: () => Promise<void>): void }, transport?: PieceTransport) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-run-'));
  const storage = await StorageManager.open({ dataPath: path.join(dir, 'store') }, { gcTimer: false });
  t.after(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });
  const client = new MemoryClient();
  const lines: string[] = [];
  const ctx: TaskRunContext = {
    client,
    storage,
    transport,
    conductorOptions: {},
    lowSpeedLimit: () => 0,
    rateLimiter: undefined,
    log: new CoreLogger({ write: (r) => void lines.push(JSON.stringify(r)) }),
  };
  const req: TaskRunRequest = {
    taskId: createHash('sha256').update('task').digest('hex'),
    peerId: '127.0.0.1-1-run',
    resolved,
    plan: planPieces(data.length, 64 * 1024),
    output: path.join(dir, 'out'),
    concurrency: 1,
    progress: () => {},
    signal: new AbortController().signal,
  };
  return { ctx, req, client, lines };
}

test('a new task is downloaded from the origin; the next run reuses the stored entry', async (t) => {
  const { ctx, req, client } = await rig(t);
  const first = await runTask(ctx, req);
  assert.equal(first.reusedFromStore, false);
  assert.deepEqual(first.transferredBy, { source: data.length });
  assert.ok((await readFile(first.entry.dataFilePath)).equals(data));
  const readsAfterFirst = client.reads;
  const again = await runTask(ctx, { ...req, peerId: '127.0.0.1-1-run2' });
  assert.equal(again.reusedFromStore, true);
  assert.equal(again.entry.peerId, first.entry.peerId);
  assert.equal(client.reads, readsAfterFirst, 'no read for a reuse');
});

test('a cluster’s wrong bytes are discarded: the task starts over from the origin and says so', async (t) => {
  // A pull transport that serves every piece with one byte changed.
  const liar: PieceTransport = {
    name: 'mirror',
    supportsRange: async () => true,
    readPiece: async (_task, piece) => {
      const b = Buffer.from(data.subarray(piece.range.start, piece.range.start + piece.range.length));
      if (piece.num === 0) b[0] = b[0]! ^ 0xff;
      return Readable.from([b]);
    },
  };
  const { ctx, req, client, lines } = await rig(t, liar);
  const before = client.reads;
  const r = await runTask(ctx, req);
  assert.equal(r.reusedFromStore, false);
  assert.deepEqual(r.transferredBy, { source: data.length, 'mirror (discarded)': data.length });
  assert.ok((await readFile(r.entry.dataFilePath)).equals(data));
  assert.ok(client.reads > before, 'the origin served the second run');
  assert.ok(lines.some((l) => /bytes from transport mirror do not match .*downloading again from the origin/.test(l)));
});
