import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertDigest, isValidDigest, splitDigest } from '../../../src/core/digest.js';

const hex64 = 'a'.repeat(64);

test('sha256 and sha512 digests in lowercase hex are the only ones accepted', () => {
  assert.equal(isValidDigest(`sha256:${hex64}`), true);
  assert.equal(isValidDigest(`sha512:${'0'.repeat(128)}`), true);
  for (const bad of [
    `sha256:${'A'.repeat(64)}`,
    `sha256:${'a'.repeat(63)}`,
    `md5:${'a'.repeat(32)}`,
    'sha256:',
    '',
    42,
  ]) {
    assert.equal(isValidDigest(bad), false, String(bad));
  }
});

test('a valid digest splits into algorithm and hex; anything else is undefined', () => {
  assert.deepEqual(splitDigest(`sha256:${hex64}`), { algorithm: 'sha256', hex: hex64 });
  assert.equal(splitDigest(`sha384:${'a'.repeat(96)}`), undefined);
});

test('assertDigest names its field and shows the bad value', () => {
  assert.doesNotThrow(() => assertDigest(`sha256:${hex64}`));
  assert.throws(
    () => assertDigest('md5:00', 'storage.digest'),
    /invalid storage\.digest: expected sha256:<64 hex> or sha512:<128 hex>, got "md5:00"/,
  );
});
