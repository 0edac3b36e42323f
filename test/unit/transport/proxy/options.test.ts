import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PROXY_OPTIONS, resolveProxyOptions } from '../../../../src/transport/proxy/options.js';
import { InvalidArgumentError } from '../../../../src/core/errors.js';

test('defaults: back-to-source on, no cleartext credentials, 30 s for headers, the priority left to the proxy', () => {
  assert.ok(Object.isFrozen(DEFAULT_PROXY_OPTIONS));
  const r = resolveProxyOptions({ proxy: 'http://127.0.0.1:4001' });
  assert.equal(r.proxy.href, 'http://127.0.0.1:4001/');
  assert.equal(r.backToSource, DEFAULT_PROXY_OPTIONS.backToSource);
  assert.equal(r.backToSource, true);
  assert.equal(r.allowCleartextCredentials, false);
  assert.equal(r.headersTimeout, 30_000);
  assert.equal(r.priority, undefined);
  const given = resolveProxyOptions({
    proxy: 'https://proxy.example:4001',
    backToSource: false,
    allowCleartextCredentials: true,
    headersTimeout: '2s',
    priority: 6,
  });
  assert.deepEqual(
    [given.backToSource, given.allowCleartextCredentials, given.headersTimeout, given.priority],
    [false, true, 2000, 6],
  );
});

test('each bad value is an InvalidArgumentError naming its option', () => {
  for (const [o, field] of [
    [undefined, 'proxy'],
    [{ proxy: 'not a url' }, 'proxy'],
    [{ proxy: 'socks5://127.0.0.1:1080' }, 'proxy'],
    [{ proxy: 'http://u:p@127.0.0.1:4001' }, 'proxy'],
    [{ proxy: 'http://127.0.0.1:4001', priority: 7 }, 'priority'],
    [{ proxy: 'http://127.0.0.1:4001', headersTimeout: 'soon' }, 'headersTimeout'],
  ] as const) {
    assert.throws(
      () => resolveProxyOptions(o as never),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === field,
      `${JSON.stringify(o)}: ${field}`,
    );
  }
});
