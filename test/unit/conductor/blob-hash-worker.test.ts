import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { HASH_WORKER_SOURCE } from '../../../src/conductor/blob-hash-worker.js';

function run(file: string, size: number, ends: number[]): Promise<{ digest?: string; error?: string }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(HASH_WORKER_SOURCE, { eval: true, workerData: { path: file, size, algorithm: 'sha256' } });
    w.once('message', (m: { digest?: string; error?: string }) => {
      void w.terminate();
      resolve(m);
    });
    w.once('error', reject);
    for (const end of ends) w.postMessage({ end });
  });
}

test('the worker hashes the file as the prefix advances and posts the digest once the whole size is hashed', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-hashworker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
  const file = path.join(dir, 'data');
  writeFileSync(file, data);
  const m = await run(file, data.length, [1024, 2 * 1024 * 1024, data.length]);
  assert.equal(m.digest, `sha256:${createHash('sha256').update(data).digest('hex')}`);
});

test('a file shorter than declared is an error message, not a hang', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-hashworker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'data');
  writeFileSync(file, Buffer.alloc(10));
  const m = await run(file, 100, [100]);
  assert.match(m.error ?? '', /unexpected end of data file at 10/);
});

test('another whole file, fed through shared buffers, is hashed apart from the data file’s prefix', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-hashworker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = Buffer.alloc(2 * 1024 * 1024 + 3, 5);
  const other = Buffer.from('another file, fed in two chunks');
  writeFileSync(path.join(dir, 'data'), data);
  const w = new Worker(HASH_WORKER_SOURCE, {
    eval: true,
    workerData: { path: path.join(dir, 'data'), size: data.length, algorithm: 'sha256' },
  });
  t.after(() => void w.terminate());
  const answers: Array<Record<string, unknown>> = [];
  const six = new Promise<void>((resolve) =>
    w.on('message', (m: Record<string, unknown>) => {
      if (answers.push(m) === 6) resolve();
    }),
  );
  const memory = [new SharedArrayBuffer(16), new SharedArrayBuffer(16)];
  const [a, b] = memory.map((m) => Buffer.from(m));
  w.postMessage({ end: 1024 });
  w.postMessage({ feed: 0, length: 4 }); // no file being hashed yet: an error answer, not a crash
  w.postMessage({ shared: memory });
  a!.set(other.subarray(0, 16));
  w.postMessage({ feed: 0, length: 16 });
  b!.set(other.subarray(16));
  w.postMessage({ feed: 1, length: other.length - 16 });
  w.postMessage({ finish: true });
  w.postMessage({ finish: true }); // a second finish has nothing fed: an error answer, not a crash
  w.postMessage({ end: data.length });
  await six;
  const sha = (x: Buffer) => `sha256:${createHash('sha256').update(x).digest('hex')}`;
  assert.deepEqual(answers.slice(0, 5), [
    { wholeError: 'no file is being hashed' },
    { fed: 0 },
    { fed: 1 },
    { whole: sha(other) },
    { wholeError: 'nothing was fed' },
  ]);
  assert.deepEqual(answers[5], { digest: sha(data) });
});
