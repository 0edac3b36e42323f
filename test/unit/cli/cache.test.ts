import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCacheCommand } from '../../../src/cli/cache.js';
import { captureIo } from './io.js';

test('cache list of a store that does not exist says so and creates nothing; an unknown command exits 1 naming the commands', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-cache-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = path.join(dir, 'store');
  const text = captureIo(dir);
  assert.equal(await runCacheCommand(['list', '--datadir', store], text.io), 0);
  assert.match(text.out(), /^no task store at .*store\n$/);
  assert.equal(existsSync(store), false);
  const json = captureIo(dir);
  assert.equal(await runCacheCommand(['list', '--json', '--datadir', store], json.io), 0);
  assert.deepEqual(JSON.parse(json.out()), { dataPath: store, entries: [] });
  const bad = captureIo(dir);
  assert.equal(await runCacheCommand(['polish', '--datadir', store], bad.io), 1);
  assert.match(bad.err(), /unknown cache command "polish" \(use list, verify, gc or clean\)/);
});
