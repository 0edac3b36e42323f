import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertPriority, DEFAULT_CLUSTER_COMMON_OPTIONS } from '../../../src/transport/cluster-common.js';
import { DEFAULT_DFDAEMON_OPTIONS } from '../../../src/transport/dfdaemon/options.js';
import { DEFAULT_PROXY_OPTIONS } from '../../../src/transport/proxy/options.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';

test('a priority is an integer 0..6, checked the same way for both transports', () => {
  for (const p of [0, 3, 6]) assertPriority(p);
  for (const p of [-1, 7, 1.5, '1', undefined, Number.NaN])
    assert.throws(
      () => assertPriority(p),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'priority',
      String(p),
    );
});

test('the shared defaults are frozen and are the defaults of both transports', () => {
  assert.ok(Object.isFrozen(DEFAULT_CLUSTER_COMMON_OPTIONS));
  assert.equal(DEFAULT_CLUSTER_COMMON_OPTIONS.backToSource, true);
  assert.equal(DEFAULT_DFDAEMON_OPTIONS.backToSource, DEFAULT_CLUSTER_COMMON_OPTIONS.backToSource);
  assert.equal(DEFAULT_PROXY_OPTIONS.backToSource, DEFAULT_CLUSTER_COMMON_OPTIONS.backToSource);
});
