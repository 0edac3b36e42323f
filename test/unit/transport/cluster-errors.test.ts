import { test } from 'node:test';
import assert from 'node:assert/strict';
import { daemonFailure, relayedStatusError } from '../../../src/transport/cluster-errors.js';
import { DaemonError, RegistryResponseError } from '../../../src/core/errors.js';

const init = (status: number) => ({
  method: 'GET',
  url: 'http://r/v2/x/blobs/sha256:1',
  status,
  errors: [{ code: 'DFDAEMON_BACKEND' }],
});

test('a cluster failure lets the origin serve, unless back-to-source is disabled (then it says so and is final)', () => {
  const open = daemonFailure('no socket', true, { grpcCode: 14 });
  assert.ok(open instanceof DaemonError && !open.final && open.grpcCode === 14 && open.message === 'no socket');
  const closed = daemonFailure('no socket', false, { cause: new Error('x') });
  assert.ok(
    closed.final && closed.message === 'no socket; back-to-source is disabled' && closed.cause instanceof Error,
  );
});

test('a relayed 4xx of the origin is final (404, 401, 403); 408, 429 and 5xx are not; any status is final without back-to-source', () => {
  for (const s of [400, 401, 403, 404]) assert.equal(relayedStatusError(init(s), true, true).final, true, String(s));
  for (const s of [408, 429, 500, 503]) assert.equal(relayedStatusError(init(s), true, true).final, false, String(s));
  assert.equal(
    relayedStatusError(init(404), false, true).final,
    false,
    "not the origin's answer (a proxy's own error)",
  );
  assert.equal(relayedStatusError(init(503), true, false).final, true);
  assert.ok(relayedStatusError(init(404), true, true) instanceof RegistryResponseError);
});
