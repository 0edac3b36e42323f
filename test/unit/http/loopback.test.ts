import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackHost } from '../../../src/http/loopback.js';

test('loopback hosts are recognised (they may fall back to plain HTTP when they do not speak TLS)', () => {
  assert.equal(isLoopbackHost('127.0.0.1:5000'), true);
  assert.equal(isLoopbackHost('localhost'), true);
  assert.equal(isLoopbackHost('[::1]:5000'), true);
  assert.equal(isLoopbackHost('ghcr.io'), false);
  assert.equal(isLoopbackHost('127.9.9.9:1'), true);
  assert.equal(isLoopbackHost('128.0.0.1'), false);
});
