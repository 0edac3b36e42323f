// A storm on one store: four processes pull ten references (40 pulls) while a fifth runs GC rounds
// back to back with every entry expiring after 1 s and a quota of half the blobs. Every pull gets
// the right bytes, and the registry serves no byte that a pull did not use: an entry is never
// collected between its download and its output, so nothing is downloaded twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pushSif, startFaultProxy, startRegistry } from '../../harness/index.js';
import { StorageManager } from '../../../src/storage/storage-manager.js';
import { pullLoop, tmpDir } from './helpers.js';

const MiB = 1024 * 1024;
const PROCESSES = 4;
const PULLS_EACH = 10;

test('40 pulls from four processes under aggressive GC: all verified, no byte served twice for nothing', async (t) => {
  const reg = await startRegistry({ variant: 'anonymous' });
  t.after(() => reg.stop());
  const proxy = await startFaultProxy(reg.origin);
  t.after(() => proxy.close());
  const refs: string[] = [];
  let total = 0;
  for (let n = 0; n < 10; n++) {
    const size = (2 + (n % 3)) * MiB;
    total += size;
    await pushSif(reg, `storm/img${n}`, 'v1', { size, seed: 400 + n });
    refs.push(reg.ref(`storm/img${n}:v1`, proxy.host));
  }
  const dir = tmpDir(t);
  const dataPath = path.join(dir, 'store');
  const outDir = path.join(dir, 'out');
  mkdirSync(outDir);
  const gc = await StorageManager.open(
    { dataPath, taskExpireTime: '1s', gcInterval: '1s', diskGCThreshold: Math.floor(total / 2) },
    { gcTimer: false },
  );
  t.after(() => gc.close());
  proxy.resetLog();
  let done = false;
  let reclaimed = 0;
  const loops = Promise.all(
    Array.from({ length: PROCESSES }, (_, p) =>
      pullLoop(dataPath, outDir, PULLS_EACH, [...refs.slice(p * 2), ...refs.slice(0, p * 2)]),
    ),
  ).finally(() => (done = true));
  while (!done) reclaimed += (await gc.gc()).reclaimed.length;
  const results = await loops;
  assert.deepEqual(
    results.flatMap((r) => r.failed),
    [],
  );
  assert.equal(
    results.reduce((a, r) => a + r.ok, 0),
    PROCESSES * PULLS_EACH,
  );
  const used = results.reduce((a, r) => a + r.transferred, 0);
  // Each download may also send a one-byte range probe.
  const served = proxy.blobBytesSent();
  assert.ok(served <= used + PROCESSES * PULLS_EACH, `registry served ${served} blob bytes; pulls used ${used}`);
  assert.ok(reclaimed > 0, 'GC did collect entries during the storm');
});
