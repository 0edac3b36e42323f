import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { DEFAULT_STORAGE_OPTIONS, resolveStorageOptions } from '../../../src/storage/options.js';

// multiplex is on because no daemon uploads the copies nobody reuses.
test('defaults: simple, multiplex, 6h expiry, no quota, 95 %, 1m GC, keepStorage, crc32, 60 s stale, 30 min lock wait', () => {
  const { options, warnings } = resolveStorageOptions({ dataPath: 'rel/dir' });
  assert.equal(options.dataPath, path.resolve('rel/dir'));
  assert.equal(options.strategy.name, 'io.d7y.storage.v2.simple');
  assert.equal(options.multiplex, true);
  assert.equal(options.lockStaleTime, 60_000);
  assert.equal(options.lockTimeout, 30 * 60_000);
  assert.equal(options.taskExpireTime, 6 * 3_600_000);
  assert.equal(options.diskGCThreshold, 0);
  assert.equal(options.diskGCThresholdPercent, 95);
  assert.equal(options.gcInterval, 60_000);
  assert.equal(options.keepStorage, true);
  assert.equal(options.pieceDigest, DEFAULT_STORAGE_OPTIONS.pieceDigest);
  assert.deepEqual(warnings, []);
  assert.ok(Object.isFrozen(options));
});

test('sizes and durations parse; invalid values name the field', () => {
  const { options } = resolveStorageOptions({
    dataPath: '/x',
    diskGCThreshold: '50Gi',
    taskExpireTime: '10m',
    gcInterval: 0,
  });
  assert.equal(options.diskGCThreshold, 50 * 2 ** 30);
  assert.equal(options.taskExpireTime, 600_000);
  assert.equal(options.gcInterval, 0);
  const bad: [Record<string, unknown>, string][] = [
    [{ dataPath: '' }, 'storage.dataPath'],
    [{ dataPath: '/x', diskGCThresholdPercent: 101 }, 'storage.diskGCThresholdPercent'],
    [{ dataPath: '/x', diskGCThresholdPercent: -1 }, 'storage.diskGCThresholdPercent'],
    [{ dataPath: '/x', diskGCThreshold: '5 parsecs' }, 'storage.diskGCThreshold'],
    [{ dataPath: '/x', taskExpireTime: 'soon' }, 'storage.taskExpireTime'],
    [{ dataPath: '/x', gcInterval: -5 }, 'storage.gcInterval'],
    [{ dataPath: '/x', multiplex: 'yes' }, 'storage.multiplex'],
    [{ dataPath: '/x', keepStorage: 1 }, 'storage.keepStorage'],
    [{ dataPath: '/x', pieceDigest: 'sha1' }, 'storage.pieceDigest'],
    [{ dataPath: '/x', strategy: 'io.d7y.storage.v2.advance..' }, 'storage.strategy'],
    [{ dataPath: '/x', strategy: { name: 'x' } }, 'storage.strategy'],
  ];
  for (const [o, field] of bad) {
    assert.throws(
      () => resolveStorageOptions(o as never),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === field,
      JSON.stringify(o),
    );
  }
});

test('strategy: trailing dot accepted with a warning; empty = simple; custom objects pass through', () => {
  const r = resolveStorageOptions({ dataPath: '/x', strategy: 'io.d7y.storage.v2.advance.' as never });
  assert.equal(r.options.strategy.name, 'io.d7y.storage.v2.advance');
  assert.match(r.warnings[0]!, /trailing dot/);
  assert.equal(
    resolveStorageOptions({ dataPath: '/x', strategy: '' }).options.strategy.name,
    'io.d7y.storage.v2.simple',
  );
  const custom = {
    name: 'mine',
    locate: async () => ({ dataFilePath: '/d', storeStrategy: 'mine' }),
    create: async () => 'self' as const,
  };
  assert.equal(resolveStorageOptions({ dataPath: '/x', strategy: custom }).options.strategy, custom);
});

test('lockStaleTime below 1 s (a bare 60 read as 60 ms, or 0) is refused, naming the field', () => {
  for (const lockStaleTime of [0, 60, '500ms'])
    assert.throws(
      () => resolveStorageOptions({ dataPath: '/x', lockStaleTime: lockStaleTime as never }),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'storage.lockStaleTime',
      String(lockStaleTime),
    );
  assert.equal(resolveStorageOptions({ dataPath: '/x', lockStaleTime: '1s' }).options.lockStaleTime, 1_000);
});
