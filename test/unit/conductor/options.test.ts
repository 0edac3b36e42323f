import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONDUCTOR_OPTIONS, resolveConductorOptions } from '../../../src/conductor/options.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';

test('defaults fill what is not given; units resolve to bytes and ms', () => {
  const r = resolveConductorOptions({
    pieceSize: '8Mi',
    lowSpeedLimit: '2Ki',
    lowSpeedTime: '10s',
    retryMinDelay: '50ms',
  });
  assert.equal(r.pieceSize, 8 * 2 ** 20);
  assert.equal(r.lowSpeedLimit, 2048);
  assert.equal(r.lowSpeedTime, 10_000);
  assert.equal(r.retryMinDelay, 50);
  assert.equal(r.concurrency, undefined, 'unset: the count finds itself');
  assert.equal(r.maxConcurrency, DEFAULT_CONDUCTOR_OPTIONS.maxConcurrency);
  assert.equal(r.pieceRetries, DEFAULT_CONDUCTOR_OPTIONS.pieceRetries);
  assert.ok(Object.isFrozen(r));
});

test('bad values and misplaced keys are refused, naming the field', () => {
  const field = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof InvalidArgumentError);
      return e.field;
    }
    assert.fail('expected an error');
  };
  assert.equal(
    field(() => resolveConductorOptions({ concurrency: 0 })),
    'concurrency',
  );
  assert.equal(
    field(() => resolveConductorOptions({ concurrency: 65 })),
    'concurrency',
  );
  assert.equal(
    field(() => resolveConductorOptions({ pieceRetries: 0 })),
    'pieceRetries',
  );
  assert.equal(
    field(() => resolveConductorOptions({ pieceSize: 0 })),
    'pieceSize',
  );
  assert.equal(
    field(() => resolveConductorOptions({ lowSpeedTime: 'soon' })),
    'lowSpeedTime',
  );
  assert.equal(
    field(() => resolveConductorOptions({ pieceDigest: 'md5' } as never)),
    'download.pieceDigest',
  );
});
