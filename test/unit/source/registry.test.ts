import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceClientRegistry } from '../../../src/source/registry.js';
import { InvalidArgumentError, UnsupportedError } from '../../../src/errors.js';
import type { ResourceClient } from '../../../src/source/resource-client.js';

const fake = {} as ResourceClient;

test('clients are found by lower-cased scheme; unknown schemes and duplicates are errors', () => {
  const reg = new ResourceClientRegistry();
  reg.register('ORAS', fake);
  assert.equal(reg.get('oras://h/r:t'), fake);
  assert.equal(reg.get('Oras://h/r:t'), fake);
  assert.throws(
    () => reg.get('ftp://x'),
    (e: unknown) => e instanceof UnsupportedError && e.message === 'scheme ftp: no source client found',
  );
  assert.throws(() => reg.register('oras', fake), InvalidArgumentError);
  assert.throws(() => reg.register('bad scheme', fake), InvalidArgumentError);
  assert.deepEqual(reg.schemes(), ['oras']);
  assert.equal(reg.unregister('oras'), true);
  assert.throws(() => reg.get('oras://h/r'), UnsupportedError);
});
