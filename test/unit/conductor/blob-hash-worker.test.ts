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
