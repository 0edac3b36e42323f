import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressLines } from '../../../src/cli/progress-lines.js';

const MiB = 1024 * 1024;

test('a line every 10 % or every 10 s, with bytes, rate and ETA; the last one at 100 %', () => {
  let now = 0;
  const out: string[] = [];
  const p = new ProgressLines(
    (l) => out.push(l),
    () => now,
  );
  p.update(0, 100 * MiB);
  now = 1000;
  p.update(5 * MiB, 100 * MiB); // 5 %, 1 s: nothing yet
  assert.deepEqual(out, []);
  now = 2000;
  p.update(25 * MiB, 100 * MiB); // crosses 10 and 20 %: one line
  // The speed over the window after the first second: 20 MiB in 1 s.
  assert.deepEqual(out, ['progress: 25% 25.0 MiB/100.0 MiB 20.0 MiB/s ETA 4s']);
  now = 13_000;
  p.update(26 * MiB, 100 * MiB); // 11 s of silence: a line although no step was crossed
  assert.equal(out.length, 2);
  assert.match(out[1]!, /^progress: 26% 26\.0 MiB\/100\.0 MiB/);
  now = 14_000;
  p.update(100 * MiB, 100 * MiB);
  assert.match(out.at(-1)!, /^progress: 100% 100\.0 MiB\/100\.0 MiB .* ETA 0s$/);
  p.update(100 * MiB, 100 * MiB);
  assert.equal(out.length, 3, 'nothing after the end');
});

test('a reuse (100 % at once) prints no progress line', () => {
  const out: string[] = [];
  const p = new ProgressLines(
    (l) => out.push(l),
    () => 0,
  );
  p.update(10 * MiB, 10 * MiB);
  assert.deepEqual(out, []);
});

test("a rate limit's one-second burst is not shown as the speed", () => {
  let now = 0;
  const out: string[] = [];
  const p = new ProgressLines(
    (l) => out.push(l),
    () => now,
  );
  p.update(0, 1000 * MiB);
  // --ratelimit 20Mi: the full bucket lets 20 MiB through at once, then 20 MiB/s.
  now = 50;
  p.update(20 * MiB, 1000 * MiB);
  for (let s = 1; s <= 10; s++) {
    now = 50 + s * 1000;
    p.update((20 + 20 * s) * MiB, 1000 * MiB);
  }
  assert.ok(out.length > 0);
  for (const line of out) {
    const speed = /\/1000\.0 MiB (.+)\/s ETA/.exec(line)?.[1];
    assert.ok(speed === '--' || speed === '20.0 MiB', line);
  }
  assert.match(out.at(-1)!, / 20\.0 MiB\/s /);
});
