import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  DEFAULT_DFDAEMON_OPTIONS,
  DEFAULT_DFDAEMON_SOCKET,
  resolveDfdaemonOptions,
} from '../../../../src/transport/dfdaemon/options.js';
import { InvalidArgumentError } from '../../../../src/core/errors.js';

test('defaults: the Rust dfdaemon socket, auto delivery, back-to-source on, durations in ms', () => {
  const r = resolveDfdaemonOptions({});
  assert.equal(r.socketPath, DEFAULT_DFDAEMON_SOCKET);
  assert.equal(r.delivery, DEFAULT_DFDAEMON_OPTIONS.delivery);
  assert.equal(r.backToSource, true);
  assert.equal(r.idleTimeout, 30_000);
  assert.equal(r.busyRetryDelay, 500);
  assert.equal(r.recordTo, undefined);
});

test('paths are made absolute; each bad value is an InvalidArgumentError naming its option', () => {
  assert.equal(resolveDfdaemonOptions({ socketPath: 'rel.sock' }).socketPath, path.resolve('rel.sock'));
  for (const [o, field] of [
    [{ socketPath: '' }, 'socketPath'],
    [{ delivery: 'carrier-pigeon' }, 'delivery'],
    [{ priority: 7 }, 'priority'],
    [{ busyRetries: -1 }, 'busyRetries'],
    [{ maxMessageBytes: 10 }, 'maxMessageBytes'],
    [{ idleTimeout: 'soon' }, 'idleTimeout'],
  ] as const) {
    assert.throws(
      () => resolveDfdaemonOptions(o as never),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === field,
      field,
    );
  }
});
