import { test } from 'node:test';
import assert from 'node:assert/strict';
import { abortableIterable } from '../../../src/internal/abort.js';

test('abortableIterable keeps no chunk alive: a 512 MiB stream through it stays small in memory', async () => {
  const ac = new AbortController();
  const chunk = 64 * 1024;
  async function* source(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < 8192; i++) yield new Uint8Array(chunk);
  }
  let peak = 0;
  let n = 0;
  for await (const c of abortableIterable(source(), ac.signal)) {
    n += c.length;
    if ((n & (8 * 1024 * 1024 - 1)) === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }
  assert.equal(n, 8192 * chunk);
  // Racing one long-lived abort promise per chunk kept every chunk reachable (512 MiB); collectable
  // chunks stay far below that.
  assert.ok(peak < 192 * 1024 * 1024, `array buffers peaked at ${peak >> 20} MiB`);
});

test('abortableIterable ends a source that never yields when the signal aborts, and closes it', async () => {
  let returned = false;
  const never: AsyncIterable<number> = {
    [Symbol.asyncIterator]: () => ({
      next: () => new Promise<IteratorResult<number>>(() => {}),
      return: async () => {
        returned = true;
        return { done: true, value: undefined };
      },
    }),
  };
  const ac = new AbortController();
  const it = abortableIterable(never, ac.signal)[Symbol.asyncIterator]();
  const pending = it.next();
  const reason = new Error('stop');
  ac.abort(reason);
  await assert.rejects(pending, (e) => e === reason);
  assert.equal(returned, true);
});
