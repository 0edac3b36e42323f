import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpeedMeter, SPEED_SETTLE_MS } from '../../../src/cli/speed-meter.js';

const MiB = 1024 * 1024;

test('no speed in the first second; then bytes per second over the last 3 s, never the initial burst', () => {
  let now = 0;
  const m = new SpeedMeter(() => now);
  m.sample(0);
  now = 20;
  m.sample(200 * MiB); // a full --ratelimit 200Mi bucket, through at once (the 220 MiB/s first tick)
  assert.equal(m.rate(), undefined);
  now = SPEED_SETTLE_MS;
  m.sample(200 * MiB);
  assert.equal(m.rate(), undefined, 'one sample is no speed');
  for (let s = 1; s <= 6; s++) {
    now = SPEED_SETTLE_MS + s * 1000;
    m.sample((200 + 200 * s) * MiB);
    assert.equal(m.rate(), 200 * MiB, `at ${now} ms`);
  }
  // The window moves: a slower link shows within about three seconds.
  for (let s = 7; s <= 10; s++) {
    now = SPEED_SETTLE_MS + s * 1000;
    m.sample((1400 + 50 * (s - 6)) * MiB);
  }
  assert.equal(m.rate(), 50 * MiB);
});
