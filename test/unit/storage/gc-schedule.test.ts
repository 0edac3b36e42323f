import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { claimDueRound, gcDue, stampRound } from '../../../src/storage/gc-schedule.js';
import { resolveStorageOptions } from '../../../src/storage/options.js';
import { StoreLayout } from '../../../src/storage/store-layout.js';

function rig(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-gcsched-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let now = 1_700_000_000_000;
  const { options } = resolveStorageOptions({ dataPath: dir, gcInterval: '1m', now: () => now });
  return { layout: new StoreLayout(dir), options, advance: (ms: number) => (now += ms) };
}

test('a round is due without a stamp, not within gcInterval of one, due again after it', async (t) => {
  const { layout, options, advance } = rig(t);
  assert.equal(await gcDue(layout, options), true);
  await stampRound(layout, options);
  assert.equal(await gcDue(layout, options), false);
  advance(59_000);
  assert.equal(await gcDue(layout, options), false);
  advance(1_000);
  assert.equal(await gcDue(layout, options), true);
});

test('a stamp from the future (clock set back) does not stop GC forever', async (t) => {
  const { layout, options, advance } = rig(t);
  await stampRound(layout, options);
  advance(-10 * 60_000);
  assert.equal(await gcDue(layout, options), true);
});

test('one claimant per round: a second claim while the first holds the lock, or right after, gets nothing', async (t) => {
  const { layout, options } = rig(t);
  const first = await claimDueRound(layout, options);
  assert.ok(first);
  assert.equal(await claimDueRound(layout, options), undefined, 'locked, and stamped');
  await first.release();
  assert.equal(await claimDueRound(layout, options), undefined, 'stamped: not due for gcInterval');
});
