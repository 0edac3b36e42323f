// The task manager's own rules, over an in-process resource client and a real store in a temp dir:
// identical concurrent requests make one download, a completed task is reused, one cancelled request
// does not stop the others, a wrong --digest fails before any byte.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { PeerTaskManager } from '../../../src/conductor/peer-task-manager.js';
import { StorageManager } from '../../../src/storage/storage-manager.js';
import { DigestMismatchError } from '../../../src/core/errors.js';
import type { BlobRead, BlobTarget, ResolvedResource, ResourceClient } from '../../../src/source/resource-client.js';
import type { ByteRange } from '../../../src/core/types.js';
import type { ProgressEvent } from '../../../src/conductor/events.js';

const data = Buffer.alloc(300_000, 7);
const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;

class MemoryClient implements ResourceClient {
  reads = 0;
  /** Reads wait for this (to hold a download open while more requests arrive). */
  gate: Promise<void> = Promise.resolve();
  async resolve(url: string): Promise<ResolvedResource> {
    return {
      url,
      resolvedUrl: `${url}?digest=${encodeURIComponent(digest)}`,
      digest,
      size: data.length,
      mediaType: 'application/octet-stream',
      manifestDigest: `sha256:${'a'.repeat(64)}`,
    };
  }
  async supportsRange(): Promise<boolean> {
    return true;
  }
  async read(_t: BlobTarget, range?: ByteRange): Promise<BlobRead> {
    this.reads++;
    await this.gate;
    const r = range ?? { start: 0, length: data.length };
    return { body: Readable.from([data.subarray(r.start, r.start + r.length)]), range: r };
  }
}

let dir: string;
let storage: StorageManager;
let client: MemoryClient;
let manager: PeerTaskManager;
beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-manager-'));
  storage = await StorageManager.open({ dataPath: path.join(dir, 'store') }, { gcTimer: false });
  client = new MemoryClient();
  manager = new PeerTaskManager({ client, storage, gcAfterPull: false });
});
afterEach(async () => {
  await manager.close();
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

test('identical concurrent requests make one download; each gets its own output', async () => {
  let open!: () => void;
  client.gate = new Promise((r) => (open = r));
  const ends = { a: 0, b: 0 };
  const a = manager.download({
    url: 'mem://x/img:v1',
    output: path.join(dir, 'a.sif'),
    onProgress: (p) => void (p.percent === 100 && ends.a++),
  });
  const b = manager.download({
    url: 'mem://x/img:v1',
    output: path.join(dir, 'b.sif'),
    onProgress: (p) => void (p.percent === 100 && ends.b++),
  });
  open();
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(client.reads, 1);
  assert.deepEqual(ends, { a: 1, b: 1 }, 'each request is told 100 % once');
  assert.deepEqual([ra.joined, rb.joined].sort(), [false, true]);
  assert.ok(readFileSync(path.join(dir, 'b.sif')).equals(data));
  assert.equal(statSync(path.join(dir, 'a.sif')).ino, statSync(path.join(dir, 'b.sif')).ino);
});

test('a completed task serves the next request from the store, without a read', async () => {
  await manager.download({ url: 'mem://x/img:v1', output: path.join(dir, 'a.sif') });
  const seen: ProgressEvent[] = [];
  const r = await manager.download({
    url: 'mem://x/img:v1',
    output: path.join(dir, 'c.sif'),
    onProgress: (p) => seen.push(p),
  });
  assert.equal(r.reused, true);
  assert.deepEqual(
    seen.map((p) => [p.percent, p.reused]),
    [[100, true]],
  );
  assert.deepEqual(r.transferredBy, {});
  assert.equal(client.reads, 1);
});

test('cancelling one of two joined requests does not stop the other', async () => {
  let open!: () => void;
  client.gate = new Promise((r) => (open = r));
  const ac = new AbortController();
  const a = manager.download({ url: 'mem://x/img:v1', output: path.join(dir, 'a.sif'), signal: ac.signal });
  const b = manager.download({ url: 'mem://x/img:v1', output: path.join(dir, 'b.sif') });
  ac.abort(new Error('user stop'));
  await assert.rejects(a, /user stop/);
  open();
  const rb = await b;
  assert.ok(readFileSync(rb.output).equals(data));
});

test('a --digest that differs from the resolved one fails before any read', async () => {
  await assert.rejects(
    manager.download({ url: 'mem://x/img:v1', output: path.join(dir, 'd.sif'), digest: `sha256:${'f'.repeat(64)}` }),
    DigestMismatchError,
  );
  assert.equal(client.reads, 0);
});

test('a bad output fails at once while the manifest is still being resolved, and that resolve is abandoned', async () => {
  // The resolve and the output check run side by side: a resolve that never answers must not hold
  // back the output's error, and must be told to stop.
  let seen: AbortSignal | undefined;
  client.resolve = (_url: string, o?: { signal?: AbortSignal | undefined }) =>
    new Promise<ResolvedResource>((_res, rej) => {
      seen = o?.signal;
      o?.signal?.addEventListener('abort', () => rej(o.signal!.reason as Error), { once: true });
    });
  const inStore = path.join(dir, 'store', 'x.sif');
  await assert.rejects(manager.download({ url: 'mem://x/img:v1', output: inStore }), /is inside the task store/);
  assert.equal(seen?.aborted, true, 'the resolve was abandoned');
  assert.equal(client.reads, 0);
});

test('a conductor option that belongs elsewhere fails the constructor, naming where it goes', () => {
  assert.throws(
    () => new PeerTaskManager({ client, storage, conductor: { pieceDigest: 'md5' } as never }),
    /download\.pieceDigest: is a storage option: storage\.pieceDigest/,
  );
  assert.throws(
    () => new PeerTaskManager({ client, storage, conductor: { concurency: 2 } as never }),
    /download\.concurency?: unknown option/,
  );
});
