// The public surface stays small and learnable: a bounded number of runtime names at the root,
// every error class under `errors` (undici's shape), Dragonfly's primitives on `orasfly/dragonfly`,
// and none of the internals the root used to leak.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as root from '../../../src/index.js';
import * as dragonfly from '../../../src/dragonfly.js';
import * as errorModule from '../../../src/core/errors.js';

test('the root exports at most 30 runtime names', () => {
  const names = Object.keys(root);
  assert.ok(names.length <= 30, `${names.length} runtime exports: ${names.join(', ')}`);
});

test('errors is a namespace of every error class and isRetryable; OrasflyError and isRetryable are also at the top', () => {
  const classes = Object.entries(errorModule).filter(
    ([, v]) => typeof v === 'function' && v.prototype instanceof Error,
  );
  assert.ok(classes.length >= 20);
  for (const [name, cls] of classes) assert.equal((root.errors as Record<string, unknown>)[name], cls, name);
  assert.equal(root.OrasflyError, root.errors.OrasflyError);
  assert.equal(root.isRetryable, root.errors.isRetryable);
  const e = new root.errors.DaemonError('x', undefined, { final: true });
  assert.ok(e instanceof root.OrasflyError && e.final && e.code === 'ERR_ORASFLY_DAEMON');
});

test('Dragonfly primitives live on the subpath, not at the root', () => {
  for (const name of [
    'taskId',
    'taskIdV2',
    'peerId',
    'planPieces',
    'pieceAt',
    'computePieceSize',
    'createPieceHasher',
  ]) {
    assert.equal(typeof (dragonfly as Record<string, unknown>)[name], 'function', name);
    assert.ok(!(name in root), name);
  }
  assert.equal(typeof dragonfly.DRAGONFLY_HEADERS, 'object');
});

test('internals and scalar aliases are not exported', () => {
  for (const name of [
    'markFinal',
    'isFinal',
    'CoreLogger',
    'TeeLogSink',
    'RateLimiter',
    'parseDuration',
    'parseSize',
    'parseConfig',
    'downloaderOptionsFromConfig',
    'formatReference',
    'DEFAULT_CONCURRENCY',
    'DEFAULT_LOW_SPEED_LIMIT',
    'DEFAULT_LOW_SPEED_TIME',
    'DEFAULT_DFDAEMON_SOCKET',
    'SIMPLE_STRATEGY',
    'ADVANCE_STRATEGY',
    'LEGACY_SIF_LAYER_MEDIA_TYPE',
  ])
    assert.ok(!(name in root), name);
});
