import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, parseSize } from '../../../src/core/units.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';

test('parseDuration reads Go duration strings and ms numbers', () => {
  assert.equal(parseDuration('1m30s', 'x'), 90_000);
  assert.equal(parseDuration('250ms', 'x'), 250);
  assert.equal(parseDuration('1.5h', 'x'), 5_400_000);
  assert.equal(parseDuration(1200, 'x'), 1200);
  assert.equal(parseDuration('0', 'x'), 0);
});

test('parseDuration rejects malformed input naming the field', () => {
  for (const bad of ['', '10x', 's', '1m 30s', '-5s', -1]) {
    assert.throws(
      () => parseDuration(bad as string, 'oras.dialTimeout'),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'oras.dialTimeout',
    );
  }
});

test('parseSize reads binary and decimal units', () => {
  assert.equal(parseSize('50Gi', 'x'), 50 * 2 ** 30);
  assert.equal(parseSize('512MiB', 'x'), 512 * 2 ** 20);
  assert.equal(parseSize('10MB', 'x'), 10_000_000);
  assert.equal(parseSize(42, 'x'), 42);
  assert.throws(() => parseSize('lots', 'storage.diskGCThreshold'), /storage.diskGCThreshold/);
});
