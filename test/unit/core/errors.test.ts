import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClosedError,
  DaemonError,
  DigestMismatchError,
  InvalidArgumentError,
  isRetryable,
  NetworkError,
  OrasflyError,
  RegistryResponseError,
  StorageError,
} from '../../../src/core/errors.js';

test('every error carries its stable code and is an OrasflyError', () => {
  const cases: Array<[OrasflyError, string]> = [
    [new InvalidArgumentError('x', 'bad'), 'ERR_ORASFLY_INVALID_ARGUMENT'],
    [new ClosedError('StorageManager'), 'ERR_ORASFLY_CLOSED'],
    [new DaemonError('down', 14), 'ERR_ORASFLY_DAEMON'],
    [new DigestMismatchError('sha256:a', 'sha256:b', 'blob'), 'ERR_ORASFLY_DIGEST_MISMATCH'],
  ];
  for (const [e, code] of cases) {
    assert.equal(e.code, code);
    assert.ok(e instanceof OrasflyError);
    assert.equal(e.name, e.constructor.name);
  }
  assert.equal(
    new ClosedError('OrasResourceClient', 'after close()').message,
    'OrasResourceClient is closed (after close())',
  );
});

test('instanceof works across duplicate copies of the package (brand check), and not for look-alikes', () => {
  const foreign = Object.assign(new Error('x'), {
    [Symbol.for('orasfly.error.OrasflyError')]: true,
    [Symbol.for('orasfly.error.StorageError')]: true,
  });
  assert.ok(foreign instanceof OrasflyError);
  assert.ok(foreign instanceof StorageError);
  assert.ok(!(foreign instanceof NetworkError));
  assert.ok(!(new Error('plain') instanceof OrasflyError));
});

test('isRetryable: connection failures and 408/429/5xx yes; 404, bad bytes, bad input no; foreign errors yes', () => {
  const res = (status: number, code?: string) =>
    new RegistryResponseError({ method: 'GET', url: 'u', status, errors: code ? [{ code }] : [] });
  assert.equal(isRetryable(new NetworkError('reset')), true);
  assert.equal(isRetryable(res(503)), true);
  assert.equal(isRetryable(res(429)), true);
  assert.equal(isRetryable(res(404)), false);
  assert.equal(isRetryable(res(503, 'RETRY_AFTER_TOO_LONG')), false);
  assert.equal(isRetryable(new DigestMismatchError('a', 'b', 'piece')), false);
  assert.equal(isRetryable(new InvalidArgumentError('x', 'y')), false);
  assert.equal(isRetryable(new Error('a custom transport')), true);
});

test('final is a readable property: set by the constructor option, false otherwise', () => {
  const e = new DaemonError('404 from the daemon', 5, { final: true });
  assert.equal(e.final, true);
  assert.equal(new DaemonError('no socket').final, false);
  assert.equal(new RegistryResponseError({ method: 'GET', url: 'u', status: 404, final: true }).final, true);
});
