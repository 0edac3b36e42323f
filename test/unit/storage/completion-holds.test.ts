import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompletionHolds } from '../../../src/storage/completion-holds.js';
import type { TaskEntry } from '../../../src/storage/entry.js';
import type { EntryPin } from '../../../src/storage/lookup.js';

const entry = { taskId: 'a'.repeat(64), peerId: '127.0.0.1-1-h' } as TaskEntry;

/** A pin function that counts the pins held. */
function pins() {
  const state = { held: 0, made: 0 };
  const pin = async (): Promise<EntryPin> => {
    state.held++;
    state.made++;
    return { entry: {} as EntryPin['entry'], release: async () => void state.held-- };
  };
  return { state, pin };
}

test('only an entry begun for an output is held, once, until its release', async () => {
  const { state, pin } = pins();
  const holds = new CompletionHolds(pin);
  await holds.completed(entry);
  assert.equal(state.made, 0, 'not expected: no hold');
  holds.expect(entry);
  await holds.completed(entry);
  await holds.completed(entry);
  assert.equal(state.held, 1);
  await holds.release(entry);
  await holds.release(entry);
  assert.equal(state.held, 0);
});

test('a writer that lets go without completing leaves nothing to hold; releaseAll ends every hold', async () => {
  const { state, pin } = pins();
  const holds = new CompletionHolds(pin);
  holds.expect(entry);
  holds.forget(entry);
  await holds.completed(entry);
  assert.equal(state.made, 0);
  holds.expect(entry);
  await holds.completed(entry);
  await holds.releaseAll();
  assert.equal(state.held, 0);
});

test('a hold nobody releases ends by itself after the bound', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { state, pin } = pins();
  const holds = new CompletionHolds(pin, 1000);
  holds.expect(entry);
  await holds.completed(entry);
  assert.equal(state.held, 1);
  t.mock.timers.tick(1000);
  await new Promise<void>((r) => setImmediate(r));
  assert.equal(state.held, 0);
});
