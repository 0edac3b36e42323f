import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SIMPLE_STRATEGY, SimpleStrategy } from '../../../../src/storage/strategies/simple.js';
import { StorageError } from '../../../../src/core/errors.js';

test('the data file is the store entry itself, created empty; an existing one is never truncated', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-simple-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const peerDir = path.join(dir, 't', 'p');
  mkdirSync(peerDir, { recursive: true });
  const ctx = {
    dataPath: dir,
    taskId: 't',
    peerId: 'p',
    peerDir,
    storeDataPath: path.join(peerDir, 'data'),
    output: '/elsewhere/out.sif',
  };
  const s = new SimpleStrategy();
  const loc = await s.locate(ctx);
  assert.deepEqual(loc, { dataFilePath: ctx.storeDataPath, storeStrategy: SIMPLE_STRATEGY });
  assert.equal(await s.create(ctx, loc), 'self');
  assert.equal(statSync(ctx.storeDataPath).size, 0);
  writeFileSync(ctx.storeDataPath, 'bytes');
  await assert.rejects(s.create(ctx, loc), StorageError);
  assert.ok(existsSync(ctx.storeDataPath));
  assert.equal(statSync(ctx.storeDataPath).size, 5);
});
