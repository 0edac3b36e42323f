import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyTransport } from '../../../src/transport/proxy-transport.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';

test('the proxy must be an http(s) URL without credentials; the priority 0..6', async () => {
  for (const proxy of ['not a url', 'socks5://127.0.0.1:1080', 'http://u:p@127.0.0.1:4001']) {
    assert.throws(() => new ProxyTransport({ proxy }), InvalidArgumentError, proxy);
  }
  assert.throws(
    () => new ProxyTransport({ proxy: 'http://127.0.0.1:4001', priority: 7 as never }),
    InvalidArgumentError,
  );
  const t = new ProxyTransport({ proxy: 'http://127.0.0.1:4001', backToSource: false });
  assert.equal(t.backToSource, false);
  assert.equal(await t.supportsRange(), true);
  await t.close();
});
