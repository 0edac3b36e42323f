import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClosedError,
  DaemonError,
  AuthError,
  DigestMismatchError,
  errorKind,
  InvalidArgumentError,
  isRetryable,
  NetworkError,
  OrasflyError,
  RegistryResponseError,
  StorageError,
  TaskFailedError,
  TlsError,
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

test('every library error carries a kind: from the status of a registry answer, the cause of a task failure, else the code', () => {
  const res = (status: number) => new RegistryResponseError({ method: 'GET', url: 'u', status });
  assert.equal(res(404).kind, 'not-found');
  assert.equal(res(500).kind, 'server-error');
  assert.equal(res(429).kind, 'rate-limited');
  assert.equal(new AuthError({ method: 'GET', url: 'u', status: 401 }).kind, 'unauthorized');
  assert.equal(new TlsError('x').kind, 'tls');
  assert.equal(new DigestMismatchError('a', 'b').kind, 'integrity');
  assert.equal(new InvalidArgumentError('x', 'y').kind, 'usage');
  assert.equal(new DaemonError('down').kind, 'cluster');
  assert.equal(new ClosedError('StorageManager').kind, 'other');
  // A task failure is what its cause is: a 404 stays a not-found for library users too.
  assert.equal(new TaskFailedError('t', 4000, 'x', { cause: res(404) }).kind, 'not-found');
  assert.equal(new TaskFailedError('t', 4000, 'x', { cause: new Error('custom') }).kind, 'other');
  assert.equal(errorKind(new DOMException('stop', 'AbortError')), 'aborted');
  assert.equal(errorKind(new Error('bug')), 'other');
});
