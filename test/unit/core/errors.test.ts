import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClosedError,
  DaemonError,
  DigestMismatchError,
  InvalidArgumentError,
  isFinal,
  isRetryable,
  markFinal,
  NetworkError,
  OrasflyError,
  RegistryResponseError,
  StorageError,
  stripUserinfo,
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

test('markFinal marks the very object; isFinal is false for everything else', () => {
  const e = new Error('404 from the daemon');
  assert.equal(isFinal(e), false);
  assert.equal(markFinal(e), e);
  assert.equal(isFinal(e), true);
  assert.equal(isFinal(new Error('404 from the daemon')), false);
  assert.equal(isFinal(undefined), false);
});

test('stripUserinfo removes user:password@ from URL-shaped text only', () => {
  assert.equal(stripUserinfo('oras://u:p@host/repo'), 'oras://host/repo');
  assert.equal(stripUserinfo('oras://host/repo@sha256:ab'), 'oras://host/repo@sha256:ab');
});
