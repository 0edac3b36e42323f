import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ADVANCE_STRATEGY,
  AdvanceStrategy,
  hiddenDataName,
  NAME_MAX,
} from '../../../../src/storage/strategies/advance.js';
import { SIMPLE_STRATEGY } from '../../../../src/storage/strategies/simple.js';

function ctx(dir: string, output?: string) {
  const peerDir = path.join(dir, 'store', 't', 'p');
  mkdirSync(peerDir, { recursive: true });
  return {
    dataPath: path.join(dir, 'store'),
    taskId: 't',
    peerId: 'p',
    peerDir,
    storeDataPath: path.join(peerDir, 'data'),
    output,
  };
}

test("with an output on the store's filesystem: a hidden file beside it, hard-linked as the store entry", async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-advance-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const c = ctx(dir, path.join(dir, 'out', 'img.sif'));
  const s = new AdvanceStrategy();
  const loc = await s.locate(c);
  assert.equal(loc.storeStrategy, ADVANCE_STRATEGY);
  assert.equal(loc.dataFilePath, path.join(dir, 'out', '.img.sif.dfget.cache.p'));
  assert.equal(await s.create(c, loc), 'hardlink');
  assert.equal(statSync(loc.dataFilePath).ino, statSync(c.storeDataPath).ino);
  assert.equal(lstatSync(c.storeDataPath).isSymbolicLink(), false);
});

test('without an output it is the simple strategy, as upstream', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-advance-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const c = ctx(dir);
  const loc = await new AdvanceStrategy().locate(c);
  assert.deepEqual(loc, { dataFilePath: c.storeDataPath, storeStrategy: SIMPLE_STRATEGY });
});

test('hidden names stay within NAME_MAX, however long the output name', () => {
  assert.equal(hiddenDataName('img.sif', 'peer'), '.img.sif.dfget.cache.peer');
  const long = hiddenDataName('x'.repeat(250), 'peer');
  assert.ok(Buffer.byteLength(long) <= NAME_MAX && long.startsWith('.') && long.includes('.dfget.cache'));
  assert.ok(Buffer.byteLength(hiddenDataName('x'.repeat(250), 'p'.repeat(250))) <= NAME_MAX);
});
