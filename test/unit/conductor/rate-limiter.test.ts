import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../../../src/conductor/rate-limiter.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';

/** A limiter on a clock the test moves, with setTimeout mocked: no real waiting. */
function rig(bytesPerSecond: number) {
  let now = 0;
  mock.timers.enable({ apis: ['setTimeout'] });
  const limiter = new RateLimiter(bytesPerSecond, () => now);
  const advance = (ms: number) => {
    now += ms;
    mock.timers.tick(ms);
  };
  return { limiter, advance };
}

test("the first second's worth passes at once (the documented burst); more waits for its share", async (t) => {
  t.after(() => mock.timers.reset());
  const { limiter, advance } = rig(1000);
  let done = false;
  await limiter.take(1000); // the burst: no wait
  const p = limiter.take(500).then(() => (done = true));
  await Promise.resolve();
  assert.equal(done, false, '500 more bytes wait for 500 ms');
  advance(499);
  await Promise.resolve();
  assert.equal(done, false);
  advance(1);
  await p;
  assert.equal(done, true);
});

test('an idle bucket refills up to one second, not beyond', async (t) => {
  t.after(() => mock.timers.reset());
  const { limiter, advance } = rig(1000);
  await limiter.take(1000);
  advance(10_000); // idle for 10 s: the bucket holds 1000, not 10000
  await limiter.take(1000);
  let done = false;
  const p = limiter.take(1).then(() => (done = true));
  await Promise.resolve();
  assert.equal(done, false, 'the 1001st byte after the refill waits');
  advance(1);
  await p;
});

test("a wait ends with the signal's reason when aborted", async (t) => {
  t.after(() => mock.timers.reset());
  const { limiter } = rig(10);
  await limiter.take(10);
  const ac = new AbortController();
  const p = limiter.take(100, ac.signal);
  ac.abort(new Error('stop'));
  await assert.rejects(p, /stop/);
});

test('a limit that is not a positive number is refused', () => {
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
    assert.throws(() => new RateLimiter(bad), InvalidArgumentError);
});
