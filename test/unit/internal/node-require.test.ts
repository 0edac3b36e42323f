import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireBuiltin } from '../../../src/internal/node-require.js';

test('requireBuiltin loads Node built-ins synchronously and returns the cached module', () => {
  const a = requireBuiltin<typeof import('node:path')>('node:path');
  assert.equal(a.join('a', 'b'), 'a/b');
  assert.equal(requireBuiltin('node:path'), a);
});
