// Two processes pull the same references from one store in a loop while a third cleans the store
// and runs quota GC rounds as fast as it can: every pull succeeds with the right bytes, because a
// reader's claim keeps removers away and a pull whose entry went before its claim starts over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pushSif, startRegistry } from '../../harness/index.js';
import { StorageManager } from '../../../src/storage/storage-manager.js';
import { pullLoop, tmpDir } from './helpers.js';

const MiB = 1024 * 1024;
const PULLS = 40;

test('pull loops in two processes against a clean/gc loop in a third: no pull fails', async (t) => {
  const reg = await startRegistry({ variant: 'anonymous' });
  t.after(() => reg.stop());
  const refs: string[] = [];
  for (const n of [1, 2]) {
    await pushSif(reg, `race/img${n}`, 'v1', { size: 3 * MiB, seed: 60 + n });
    refs.push(reg.ref(`race/img${n}:v1`));
  }
  const dir = tmpDir(t);
  const dataPath = path.join(dir, 'store');
  const outDir = path.join(dir, 'out');
  mkdirSync(outDir);
  // The remover: everything it may take, as often as it can, until both loops are done.
  const remover = await StorageManager.open({ dataPath, diskGCThreshold: '1Mi', gcInterval: '1s' }, { gcTimer: false });
  t.after(() => remover.close());
  let done = false;
  let removed = 0;
  const loops = Promise.all([
    pullLoop(dataPath, outDir, PULLS, refs),
    pullLoop(dataPath, outDir, PULLS, [...refs].reverse()),
  ]).finally(() => (done = true));
  while (!done) {
    removed += (await remover.clean([])).removed.length;
    removed += (await remover.gc()).reclaimed.length;
  }
  const results = await loops;
  assert.deepEqual(
    results.flatMap((r) => r.failed),
    [],
  );
  assert.equal(
    results.reduce((a, r) => a + r.ok, 0),
    2 * PULLS,
  );
  assert.ok(removed > 0, 'the remover did take entries between pulls');
});
