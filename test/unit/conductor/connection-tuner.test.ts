import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionTuner } from '../../../src/conductor/connection-tuner.js';

const MiB = 1024 * 1024;

/**
 * Drives a tuner through windows of 200 ms on a fake clock: each entry is the aggregate MiB/s the
 * link gives at the target count then (a function of the count). Returns the targets seen.
 */
function drive(
  tuner: ConnectionTuner,
  rate: (count: number) => number,
  windows: number,
  cpu?: { ms: number; share: number },
) {
  let now = 0;
  const seen: number[] = [];
  tuner.running(tuner.target, now);
  for (let w = 0; w < windows; w++) {
    now += 200;
    if (cpu) cpu.ms += 200 * cpu.share;
    if (tuner.record(rate(tuner.target) * MiB * 0.2, now)) tuner.running(tuner.target, now);
    seen.push(tuner.target);
  }
  return seen;
}

test('the count doubles while the throughput rises by 20 % or more, then keeps the last count that paid', () => {
  // A link that caps each connection at 16 MiB/s and the whole at 70 MiB/s.
  const t = new ConnectionTuner({ max: 8, minWindowBytes: MiB });
  const seen = drive(t, (c) => Math.min(16 * c, 70), 6);
  assert.deepEqual(seen, [2, 4, 8, 4, 4, 4]);
  assert.match(t.reason, /^8 connections gave 1\.09× the throughput of 4 \(70\.0 MiB\/s vs 64\.0 MiB\/s\): keeping 4$/);
});

test('a count the scheduler cannot reach (nothing left to split) settles at what runs, and says so', () => {
  const t = new ConnectionTuner({ max: 8, minWindowBytes: MiB });
  drive(t, (c) => 16 * c, 1);
  assert.equal(t.target, 2, 'probing 2');
  t.capped(1);
  assert.equal(t.target, 1);
  assert.match(t.reason, /probing 2; one stream kept: nothing left to split$/);
  // Settled: it watches for a drop instead of waiting for two connections that will never run.
  t.capped(1);
  assert.equal(t.target, 1);
});

test('a count capped by max stays there and says so', () => {
  const t = new ConnectionTuner({ max: 4, minWindowBytes: MiB });
  assert.deepEqual(
    drive(t, (c) => 16 * c, 5),
    [2, 4, 4, 4, 4],
  );
  assert.match(t.reason, /4 is the most allowed/);
});

test('a process that keeps a core busy is the limit: one stream is kept, and a slower window then is not a reason to probe', () => {
  const cpu = { ms: 0, share: 1.2 };
  const t = new ConnectionTuner({ max: 8, minWindowBytes: MiB, cpuMs: () => cpu.ms });
  assert.deepEqual(
    drive(t, () => 400, 2, cpu),
    [1, 1],
  );
  assert.match(
    t.reason,
    /one stream gave .* with this process at 120 % of a core: the link is not the limit, keeping 1/,
  );
  assert.deepEqual(
    drive(t, () => 200, 3, cpu),
    [1, 1, 1],
    'busy and slower: the machine, not the link',
  );
});

test('two windows under 80 % of the kept rate start a new probe', () => {
  const t = new ConnectionTuner({ max: 8, minWindowBytes: 1 });
  drive(t, (c) => (c === 1 ? 50 : 52), 3); // 2 does not pay: 1 is kept
  assert.equal(t.target, 1);
  assert.deepEqual(
    drive(t, () => 30, 2),
    [1, 2],
  );
  assert.match(t.reason, /throughput fell to .*probing 2/);
});

test('windows shorter than windowMs or smaller than minWindowBytes decide nothing; max 1 never probes', () => {
  const t = new ConnectionTuner({ max: 8, minWindowBytes: 64 * MiB });
  t.running(1, 0);
  assert.equal(t.record(10 * MiB, 1000), false, 'too few bytes');
  const one = new ConnectionTuner({ max: 1, minWindowBytes: 1 });
  assert.deepEqual(
    drive(one, () => 10, 3),
    [1, 1, 1],
  );
});
