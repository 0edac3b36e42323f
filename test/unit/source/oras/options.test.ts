import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_ORAS_CLIENT_OPTIONS, resolveOrasClientOptions } from '../../../../src/source/oras/options.js';
import { InvalidArgumentError } from '../../../../src/core/errors.js';

test('defaults: documented values, durations in ms, TLS verified', () => {
  const o = resolveOrasClientOptions();
  assert.equal(o.dialTimeout, 30_000);
  assert.equal(o.keepAlive, 30_000);
  assert.equal(o.idleConnTimeout, 90_000);
  assert.equal(o.responseHeaderTimeout, 30_000);
  assert.equal(o.tlsHandshakeTimeout, 10_000);
  assert.equal(o.expectContinueTimeout, 10_000);
  assert.equal(o.insecureSkipVerify, false);
  assert.equal(o.maxIdleConns, 100);
  assert.equal(o.maxManifestBytes, 4 * 1024 * 1024);
  assert.equal(o.maxTokenBytes, 128 * 1024);
  assert.equal(o.retry.maxRetries, 5);
  assert.deepEqual([...o.retry.statusCodes], [408, 429, 500, 502, 503, 504]);
  assert.equal(DEFAULT_ORAS_CLIENT_OPTIONS.insecureSkipVerify, false);
  assert.ok(Object.isFrozen(o));
  assert.equal(resolveOrasClientOptions({ dialTimeout: '1m30s', idleConnTimeout: 500 }).dialTimeout, 90_000);
});

test('every invalid field is an InvalidArgumentError naming it', () => {
  const bad: [Record<string, unknown>, string][] = [
    [{ dialTimeout: '5 parsecs' }, 'dialTimeout'],
    [{ keepAlive: -1 }, 'keepAlive'],
    [{ responseHeaderTimeout: 'x' }, 'responseHeaderTimeout'],
    [{ expectContinueTimeout: 'x' }, 'expectContinueTimeout'],
    [{ maxIdleConns: 0 }, 'maxIdleConns'],
    [{ proxy: 'not a url' }, 'proxy'],
    [{ proxy: 'ftp://p' }, 'proxy'],
    [{ insecureSkipVerify: 'yes' }, 'insecureSkipVerify'],
    [{ plainHttp: 1 }, 'plainHttp'],
    [{ caFile: '/nonexistent/ca.pem' }, 'caFile'],
    [{ credentials: { username: 'u' } }, 'credentials'],
    [{ retry: { maxRetries: -1 } }, 'retry.maxRetries'],
    [{ retry: { jitter: 2 } }, 'retry.jitter'],
    [{ retry: { statusCodes: [404] } }, 'retry.statusCodes'],
    [{ retry: { minDelay: 5000, maxDelay: 10 } }, 'retry.maxDelay'],
    [{ maxManifestBytes: 1.5 }, 'maxManifestBytes'],
    [{ platform: { os: 'linux' } }, 'platform'],
    [{ layerIndex: 1, layerMediaType: 'x' }, 'layerIndex'],
    [{ dispatcher: {} }, 'dispatcher'],
    [{ userAgent: 'a\r\nb' }, 'userAgent'],
    [{ dockerConfig: 'x' }, 'dockerConfig'],
  ];
  for (const [o, field] of bad) {
    assert.throws(
      () => resolveOrasClientOptions(o as never),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === field,
      field,
    );
  }
  // Secrets never end up in the message.
  try {
    resolveOrasClientOptions({ credentials: { password: 'topsecret' } as never });
  } catch (e) {
    assert.doesNotMatch(String(e), /topsecret/);
  }
});

test('caFile is read; a file without a certificate is rejected', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'orasfly-ca-'));
  try {
    writeFileSync(path.join(dir, 'junk.pem'), 'hello');
    assert.throws(() => resolveOrasClientOptions({ caFile: path.join(dir, 'junk.pem') }), InvalidArgumentError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a registryConfig file that does not exist is refused when the client is made (a typo is not "anonymous")', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'orasfly-regcfg-'));
  try {
    const missing = path.join(dir, 'auth.json');
    assert.throws(
      () => resolveOrasClientOptions({ registryConfig: [missing] }),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'registryConfig' && e.message.includes(missing),
    );
    writeFileSync(missing, '{}');
    assert.deepEqual(resolveOrasClientOptions({ registryConfig: [missing] }).registryConfig, [missing]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tagCacheTtl: off (0) by default, a duration otherwise; a negative or malformed one is refused', () => {
  assert.equal(DEFAULT_ORAS_CLIENT_OPTIONS.tagCacheTtl, 0);
  assert.equal(resolveOrasClientOptions().tagCacheTtl, 0);
  assert.equal(resolveOrasClientOptions({ tagCacheTtl: '60s' }).tagCacheTtl, 60_000);
  assert.equal(resolveOrasClientOptions({ tagCacheTtl: 1500 }).tagCacheTtl, 1500);
  for (const bad of ['-1s', 'soon'])
    assert.throws(
      () => resolveOrasClientOptions({ tagCacheTtl: bad }),
      (e: unknown) => e instanceof InvalidArgumentError && /tagCacheTtl/.test(e.message),
    );
  const cache = {} as NonNullable<Parameters<typeof resolveOrasClientOptions>[0]>['cache'];
  assert.equal(resolveOrasClientOptions({ cache }).cache, cache, 'the memory is kept as given');
});
