// undici on demand: a client's dispatcher is built at its first request through undici, once, and
// a run that never sends one has nothing to build or close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dispatcher } from 'undici';
import { LazyDispatcher, loadUndici } from '../../../src/http/lazy-undici.js';
import * as undiciModules from '../../../src/http/undici-modules.js';

/** A stand-in dispatcher: only its identity matters here. */
const fake = (name: string): Dispatcher => ({ name }) as unknown as Dispatcher;

test('loadUndici gives the undici modules this library uses', async () => {
  const u = await loadUndici();
  assert.equal(u.agentClass, undiciModules.agentClass);
  assert.equal(typeof u.agentClass(), 'function');
  assert.equal(typeof u.dispatcherRequest, 'function');
});

test('the dispatcher is built once, at the first get(); current() is undefined before any request', async () => {
  const builds: unknown[] = [];
  const built = fake('built');
  const lazy = new LazyDispatcher((u) => {
    builds.push(u);
    return built;
  });
  assert.equal(await lazy.current(), undefined, 'nothing to close before a request');
  assert.equal(builds.length, 0, 'nothing built at construction');
  assert.equal(await lazy.get(), built);
  assert.equal(builds.length, 1);
  assert.equal((builds[0] as typeof undiciModules).agentClass, undiciModules.agentClass, 'build gets the modules');
  assert.equal(await lazy.get(), built);
  assert.equal(await lazy.current(), built);
  assert.equal(builds.length, 1, 'built once');
});

test('concurrent first calls share one build; current() during the build waits for it', async () => {
  let builds = 0;
  const built = fake('shared');
  const lazy = new LazyDispatcher(() => (builds++, built));
  const first = [lazy.get(), lazy.get(), lazy.get()];
  const during = lazy.current();
  const all = await Promise.all([...first, during]);
  assert.deepEqual(all, [built, built, built, built]);
  assert.equal(builds, 1);
});

test('an injected (ready) dispatcher is returned as is; build is never called', async () => {
  const ready = fake('ready');
  let builds = 0;
  const lazy = new LazyDispatcher(() => (builds++, fake('other')), ready);
  assert.equal(await lazy.current(), ready);
  assert.equal(await lazy.get(), ready);
  assert.equal(await Promise.all([lazy.get(), lazy.get()]).then(([a, b]) => a === ready && b === ready), true);
  assert.equal(builds, 0);
});

test('a build that throws rejects get(); current() then says there is nothing to close', async () => {
  const lazy = new LazyDispatcher(() => {
    throw new Error('no agent today');
  });
  await assert.rejects(lazy.get(), /no agent today/);
  assert.equal(await lazy.current(), undefined);
});

test('a failed build is not kept: the next get() builds again', async () => {
  let calls = 0;
  const agent = { close: async () => {} } as unknown as import('undici').Dispatcher;
  const lazy = new LazyDispatcher(() => {
    if (++calls === 1) throw new Error('transient');
    return agent;
  });
  await assert.rejects(lazy.get(), /transient/);
  assert.equal(await lazy.get(), agent);
  assert.equal(calls, 2);
});

test('loading undici is announced first on its diagnostics channel (the command tunes V8 then, and only then)', async () => {
  const { subscribe, unsubscribe } = await import('node:diagnostics_channel');
  const { UNDICI_LOAD_CHANNEL, loadUndici } = await import('../../../src/http/lazy-undici.js');
  let heard = 0;
  const onLoad = (): void => void heard++;
  subscribe(UNDICI_LOAD_CHANNEL, onLoad);
  try {
    await loadUndici();
    assert.equal(heard, 1);
  } finally {
    unsubscribe(UNDICI_LOAD_CHANNEL, onLoad);
  }
  await loadUndici();
  assert.equal(heard, 1, 'heard after unsubscribing');
});
