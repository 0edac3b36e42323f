import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressMeter } from '../../../src/conductor/progress.js';
import type { ProgressEvent } from '../../../src/conductor/events.js';

test('progress never goes back, counts stored and arriving bytes, and ends at 100 % once', () => {
  const seen: ProgressEvent[] = [];
  const m = new ProgressMeter('t', 1000, 0, (p) => seen.push(p));
  m.arriving(300);
  m.forget(300); // that piece failed: its bytes no longer count, but the display does not go back
  m.pieceStored(400, 0);
  m.arriving(100);
  m.end();
  m.end();
  const transferred = seen.map((p) => p.transferred);
  assert.deepEqual(transferred, [300, 400, 500, 1000]);
  assert.ok(transferred.every((x, i) => i === 0 || x >= transferred[i - 1]!));
  assert.equal(seen.at(-1)!.percent, 100);
  assert.equal(m.stored, 400);
});

test('events are throttled to the interval; an empty blob is 100 %', () => {
  const seen: ProgressEvent[] = [];
  const m = new ProgressMeter('t', 10, 60_000, (p) => seen.push(p));
  m.arriving(1);
  m.arriving(1);
  m.arriving(1);
  assert.equal(seen.length, 1, 'one event, the others wait for the interval');
  m.stop();
  const empty: ProgressEvent[] = [];
  new ProgressMeter('t', 0, 0, (p) => empty.push(p)).end();
  assert.equal(empty[0]!.percent, 100);
});

test('every byte stored is not yet 100 %: that is said once, by end(), after the digest check', () => {
  const seen: ProgressEvent[] = [];
  const m = new ProgressMeter('t', 1000, 0, (p) => seen.push(p));
  m.arriving(600);
  m.pieceStored(1000, 600);
  assert.deepEqual(
    seen.map((p) => p.percent),
    [60],
  );
  m.end();
  assert.deepEqual(
    seen.map((p) => p.percent),
    [60, 100],
  );
});
