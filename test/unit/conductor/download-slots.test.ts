import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSlots, DownloadSlots, openFileLimit } from '../../../src/conductor/download-slots.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';

const LIMITS = (soft: string) =>
  `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                 4096                 files\n`;

test('the default follows the soft open-file limit: (limit − 48) ÷ 8, between 1 and 64', () => {
  assert.equal(openFileLimit(LIMITS('128')), 128);
  assert.equal(openFileLimit(LIMITS('unlimited')), Infinity);
  assert.equal(openFileLimit('no such line'), undefined);
  assert.equal(defaultSlots(128), 10);
  assert.equal(defaultSlots(20), 1);
  assert.equal(defaultSlots(1024), 64);
  assert.equal(defaultSlots(Infinity), 64);
  assert.equal(defaultSlots(undefined), 64);
  assert.throws(() => new DownloadSlots(0), InvalidArgumentError);
});

test('at most `size` run at once; the rest wait in order', async () => {
  const slots = new DownloadSlots(2);
  const gates: (() => void)[] = [];
  let running = 0;
  let most = 0;
  const order: number[] = [];
  const jobs = [0, 1, 2, 3].map((i) =>
    slots.run(async () => {
      running++;
      most = Math.max(most, running);
      order.push(i);
      await new Promise<void>((r) => gates.push(r));
      running--;
      return i;
    }),
  );
  await Promise.resolve();
  assert.equal(slots.waiting, 2);
  while (gates.length || running) {
    await new Promise<void>((r) => setImmediate(r));
    gates.shift()?.();
  }
  assert.deepEqual(await Promise.all(jobs), [0, 1, 2, 3]);
  assert.equal(most, 2);
  assert.deepEqual(order, [0, 1, 2, 3]);
});

test('a request cancelled while it waits rejects at once and never runs', async () => {
  const slots = new DownloadSlots(1);
  let release!: () => void;
  const first = slots.run(() => new Promise<string>((r) => (release = () => r('first'))));
  const ac = new AbortController();
  let ran = false;
  const second = slots.run(async () => {
    ran = true;
  }, ac.signal);
  ac.abort(new Error('no longer wanted'));
  await assert.rejects(second, /no longer wanted/);
  release();
  assert.equal(await first, 'first');
  await slots.run(async () => {});
  assert.equal(ran, false);
});
