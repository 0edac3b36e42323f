import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { StallError, StallWatch } from '../../../src/conductor/stall-watch.js';

test('a window with fewer bytes than limit × time aborts the attempt with a StallError; enough bytes keep it alive', () => {
  mock.timers.enable({ apis: ['setInterval'] });
  try {
    const w = new StallWatch('piece 3', 1000, 2000);
    w.add(2500); // above 1000 B/s × 2 s
    mock.timers.tick(2000);
    assert.equal(w.signal.aborted, false);
    w.add(1999); // one byte short in the next window
    mock.timers.tick(2000);
    assert.equal(w.signal.aborted, true);
    const e = w.signal.reason as StallError;
    assert.ok(e instanceof StallError);
    assert.equal(e.code, 'ERR_ORASFLY_TIMEOUT');
    assert.match(e.message, /piece 3 stalled: 1999 bytes in 2 s, below download\.lowSpeedLimit of 1000 B\/s/);
    w.stop();
  } finally {
    mock.timers.reset();
  }
});

test('the rule is off with a zero limit or window, and a stopped watch never fires', () => {
  mock.timers.enable({ apis: ['setInterval'] });
  try {
    const off = new StallWatch('x', 0, 1000);
    const off2 = new StallWatch('x', 1000, 0);
    const stopped = new StallWatch('x', 1000, 1000);
    stopped.stop();
    mock.timers.tick(10_000);
    assert.equal(off.signal.aborted || off2.signal.aborted || stopped.signal.aborted, false);
  } finally {
    mock.timers.reset();
  }
});

test('count() ends a body that ignores signals as soon as the attempt stalls, and closes its source', async () => {
  mock.timers.enable({ apis: ['setInterval'] });
  try {
    let returned = false;
    const never: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<Uint8Array>>(() => {}),
        return: async () => {
          returned = true;
          return { done: true, value: undefined };
        },
      }),
    };
    const w = new StallWatch('piece 0', 1, 1000);
    const it = w.count(never)[Symbol.asyncIterator]();
    const next = it.next();
    mock.timers.tick(1000);
    await assert.rejects(next, StallError);
    assert.equal(returned, true);
  } finally {
    mock.timers.reset();
  }
});
