// The monotonic clock the code measures durations with, and why it is not performance.now().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { monotonicMs } from '../../../src/internal/clock.js';

test('monotonicMs is in milliseconds, never goes back, and agrees with performance.now()', () => {
  const a = monotonicMs();
  const p = performance.now();
  let last = a;
  for (let i = 0; i < 1000; i++) {
    const t = monotonicMs();
    assert.ok(t >= last, 'never goes back');
    last = t;
  }
  const dA = monotonicMs() - a;
  const dP = performance.now() - p;
  // Both measure the same loop: in milliseconds, not seconds or nanoseconds.
  assert.ok(Math.abs(dA - dP) < Math.max(5, dP), `${dA} ms against performance.now()'s ${dP} ms`);
});

test('using the clock does not load perf_hooks (what it is for)', () => {
  const clock = fileURLToPath(new URL('../../../src/internal/clock.js', import.meta.url));
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { monotonicMs } = await import(${JSON.stringify(clock)}); monotonicMs(); ` +
        `console.log(process.moduleLoadList.some((m) => m.includes('perf_hooks')));`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'false');
});
