import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type GcCandidate, planGc } from '../../../src/storage/gc.js';

const c = (key: string, lastAccess: number, o: Partial<GcCandidate> = {}): GcCandidate => ({
  key,
  size: 100,
  lastAccess,
  expiryBase: lastAccess,
  exclusive: true,
  done: true,
  active: false,
  marked: false,
  ...o,
});
const policy = { now: 10_000, taskExpireTime: 0, diskGCThreshold: 0, diskGCThresholdPercent: 0, gcInterval: 1000 };

test('expiry: strictly older than taskExpireTime; 0 disables; active and marked skipped', () => {
  const cands = [c('old', 1000), c('edge', 5000), c('active', 0, { active: true }), c('marked', 0, { marked: true })];
  assert.deepEqual(planGc(cands, { ...policy, taskExpireTime: 5000 }).expired, ['old']);
  assert.deepEqual(planGc(cands, policy).expired, []);
});

test('quota: LRU until the excess is covered (strict > threshold); unfinished tasks touched within gcInterval skipped', () => {
  const cands = [
    c('b', 300),
    c('a', 100),
    c('c', 500),
    c('writing', 9500, { done: false }),
    c('stalled', 50, { done: false }),
  ];
  const p = planGc(cands, { ...policy, diskGCThreshold: 300 });
  assert.equal(p.quotaExcess, 200);
  assert.deepEqual(p.evicted, ['stalled', 'a']);
  assert.deepEqual(planGc(cands, { ...policy, diskGCThreshold: 500 }).evicted, []);
});

test('disk percent: (used% − mark) × total / 100 bytes, exclusive entries only; shared ones go only for the quota', () => {
  const cands = [c('shared-old', 1, { exclusive: false }), c('x1', 2), c('x2', 3), c('x3', 4)];
  const disk = { total: 10_000, used: 9700, usedPercent: 97 };
  const p = planGc(cands, { ...policy, diskGCThresholdPercent: 95 }, disk);
  assert.equal(p.usageExcess, 200);
  assert.deepEqual(p.evicted, ['x1', 'x2']);
  assert.deepEqual(planGc(cands, { ...policy, diskGCThresholdPercent: 0 }, disk).evicted, []);
  const q = planGc(cands, { ...policy, diskGCThreshold: 50 });
  assert.deepEqual(q.evicted, ['x1', 'x2', 'x3', 'shared-old']);
  const short = planGc([c('s', 1, { exclusive: false })], { ...policy, diskGCThresholdPercent: 95 }, disk);
  assert.deepEqual(short.evicted, []);
  assert.equal(short.remaining, 200);
});
