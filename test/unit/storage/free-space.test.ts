import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { assertFits, availableBytes } from '../../../src/storage/free-space.js';
import { StorageQuotaError } from '../../../src/core/errors.js';

test('availableBytes reports the free bytes of a directory, or of its nearest existing ancestor (a store not made yet)', async () => {
  const free = await availableBytes(os.tmpdir());
  assert.ok(free && free.bytes > 0 && Number.isInteger(free.dev));
  const missing = await availableBytes('/no/such/dir/anywhere');
  assert.equal(missing?.dir, '/');
});

test('assertFits refuses what cannot fit, naming the need and what is free; zero always fits', async () => {
  await assertFits(0, [os.tmpdir()], 'a layer');
  await assertFits(1, [os.tmpdir()], 'a layer');
  await assert.rejects(
    assertFits(2 ** 60, [os.tmpdir()], 'a layer'),
    (e: unknown) =>
      e instanceof StorageQuotaError && /a layer of .* does not fit in .*free; nothing was written/.test(e.message),
  );
});
