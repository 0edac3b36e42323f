import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskRegistry, type RunningTask } from '../../../src/conductor/task-registry.js';
import type { ProgressEvent } from '../../../src/conductor/events.js';

/** A task whose outcome the test settles, and the task handle the registry gave its start. */
function deferredStart() {
  let resolve!: (v: string) => void;
  let started: RunningTask<string> | undefined;
  const start = (t: RunningTask<string>) => {
    started = t;
    return new Promise<string>((r, reject) => {
      resolve = r;
      t.controller.signal.addEventListener('abort', () => reject(t.controller.signal.reason), { once: true });
    });
  };
  return { start, resolve: (v: string) => resolve(v), task: () => started! };
}

test('a second request for a running task joins it; both get the outcome and the progress', async () => {
  const reg = new TaskRegistry<string>();
  const d = deferredStart();
  const first = reg.join('t1', d.start);
  const second = reg.join('t1', () => assert.fail('must join, not start'));
  assert.deepEqual([first.joined, second.joined], [false, true]);
  assert.equal(reg.size, 1);
  const seen: string[] = [];
  const p: ProgressEvent = { taskId: 't1', transferred: 5, total: 10, percent: 50 };
  const a = reg.wait(first.task, { onProgress: () => seen.push('a') });
  const b = reg.wait(second.task, { onProgress: () => seen.push('b') });
  d.task().progress(p);
  d.resolve('entry');
  assert.deepEqual(await Promise.all([a, b]), ['entry', 'entry']);
  assert.deepEqual(seen, ['a', 'b']);
  assert.equal(reg.size, 0, 'a settled task leaves the registry');
});

test('one cancelled request of two detaches; the last one cancelled stops the task, which takes no joiner', async () => {
  const reg = new TaskRegistry<string>();
  const d = deferredStart();
  const { task } = reg.join('t1', d.start);
  const ac1 = new AbortController();
  const ac2 = new AbortController();
  const a = reg.wait(task, { signal: ac1.signal });
  const b = reg.wait(task, { signal: ac2.signal });
  ac1.abort(new Error('first gone'));
  await assert.rejects(a, /first gone/);
  assert.equal(task.controller.signal.aborted, false, 'the other request still wants it');
  ac2.abort(new Error('second gone'));
  await assert.rejects(b, /second gone/);
  assert.equal(task.controller.signal.aborted, true);
  const next = reg.join('t1', deferredStart().start);
  assert.equal(next.joined, false, 'a stopped task is not joined');
});

test('a throwing progress callback does not stop the others; closeAll stops every task', async () => {
  const reg = new TaskRegistry<string>();
  const d = deferredStart();
  const { task } = reg.join('t1', d.start);
  const seen: number[] = [];
  const w1 = reg.wait(task, {
    onProgress: () => {
      throw new Error('bad callback');
    },
  });
  const w2 = reg.wait(task, { onProgress: (p) => seen.push(p.percent) });
  task.progress({ taskId: 't1', transferred: 1, total: 4, percent: 25 });
  assert.deepEqual(seen, [25]);
  await reg.closeAll(new Error('closing'));
  await assert.rejects(w1, /closing/);
  await assert.rejects(w2, /closing/);
  assert.equal(reg.size, 0);
});
