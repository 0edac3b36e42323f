import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { parseRetryAfter, retryDelay, sleep } from '../../../src/internal/retry.js';
import { resolveOrasClientOptions } from '../../../src/source/oras/options.js';

const policy = resolveOrasClientOptions().retry;

test('backoff grows by factor from minDelay, is capped at maxDelay, jitter stays within bounds', () => {
  assert.equal(
    retryDelay(policy, 0, undefined, () => 0.5),
    200,
  );
  assert.equal(
    retryDelay(policy, 1, undefined, () => 0.5),
    400,
  );
  assert.equal(
    retryDelay(policy, 3, undefined, () => 0.5),
    1600,
  );
  assert.equal(
    retryDelay(policy, 10, undefined, () => 0.5),
    3000,
  );
  assert.equal(
    retryDelay(policy, 0, undefined, () => 0),
    180,
  );
  assert.equal(
    retryDelay(policy, 0, undefined, () => 0.999999),
    220,
  );
  for (let i = 0; i < 1000; i++) {
    const attempt = i % 8;
    const d = retryDelay(policy, attempt);
    const base = Math.min(3000, 200 * 2 ** attempt);
    assert.ok(d >= base * 0.9 - 1 && d <= base * 1.1 + 1, `${d} for attempt ${attempt}`);
  }
});

test('Retry-After: seconds and HTTP-dates, capped, no jitter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('1', now), 1000);
  assert.equal(parseRetryAfter(['2'], now), 2000);
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter('-1', now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
  assert.equal(
    retryDelay(policy, 4, 1000, () => 0),
    1000,
  );
  assert.equal(retryDelay(policy, 0, 3_600_000), 30_000);
});

test('sleep waits on the (fake) clock and an abort cancels it at once', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let done = false;
    const p = sleep(5000).then(() => (done = true));
    mock.timers.tick(4999);
    await Promise.resolve();
    assert.equal(done, false);
    mock.timers.tick(1);
    await p;
    assert.equal(done, true);
    const ac = new AbortController();
    const q = sleep(60_000, ac.signal);
    const reason = new Error('cancelled');
    ac.abort(reason);
    await assert.rejects(q, (e) => e === reason);
    await assert.rejects(sleep(1, AbortSignal.abort(reason)), (e) => e === reason);
  } finally {
    mock.timers.reset();
  }
});
