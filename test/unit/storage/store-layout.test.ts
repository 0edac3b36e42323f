import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  assertTaskIdName,
  claimStoreRoot,
  isPeerIdName,
  isTaskIdName,
  removePeerDir,
  STORE_MARKER,
} from '../../../src/storage/store-layout.js';
import { InvalidArgumentError, StorageError } from '../../../src/core/errors.js';

let dir: string;
before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-layout-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

const task = 'a'.repeat(64);
const peer = '10.0.0.1-123-4f2c';

test('task and peer directory names have their shapes; nothing else counts', () => {
  assert.equal(isTaskIdName(task), true);
  assert.equal(isTaskIdName('A'.repeat(64)), false);
  assert.equal(isTaskIdName('../x'), false);
  assert.equal(isPeerIdName(peer), true);
  assert.equal(isPeerIdName('..'), false);
  assert.equal(isPeerIdName('notes.txt'), false);
});

test('a task id given as input is checked with a message naming the field', () => {
  assert.doesNotThrow(() => assertTaskIdName(task));
  assert.throws(
    () => assertTaskIdName('../x'),
    (e: unknown) => e instanceof InvalidArgumentError && e.field === 'taskId' && /64 lower-case hex/.test(e.message),
  );
});

test("a new directory becomes a store; a marked one is accepted; a directory of the user's files is refused", async () => {
  const fresh = path.join(dir, 'fresh');
  assert.equal(await claimStoreRoot(fresh), 'created');
  assert.ok(existsSync(path.join(fresh, STORE_MARKER)));
  assert.equal(await claimStoreRoot(fresh), 'existing');
  const home = path.join(dir, 'home');
  mkdirSync(home);
  writeFileSync(path.join(home, 'thesis.tex'), 'mine');
  await assert.rejects(claimStoreRoot(home), StorageError);
  assert.deepEqual(readdirSync(home), ['thesis.tex'], 'nothing was added or removed');
});

test('a 0.1.0 store (store-shaped names only, no marker) is adopted', async () => {
  const old = path.join(dir, 'old');
  mkdirSync(path.join(old, task), { recursive: true });
  assert.equal(await claimStoreRoot(old), 'adopted');
  assert.ok(existsSync(path.join(old, STORE_MARKER)));
});

test("removePeerDir removes only the store's own files and never follows a symlink", async () => {
  const p = path.join(dir, 'rm', peer);
  mkdirSync(p, { recursive: true });
  writeFileSync(path.join(p, 'data'), 'd');
  writeFileSync(path.join(p, 'metadata'), '{}');
  writeFileSync(path.join(dir, '.x.dfget.cache.p'), 'hidden');
  symlinkSync(path.join(dir, '.x.dfget.cache.p'), path.join(p, 'data-file'));
  assert.equal(await removePeerDir(p), true);
  assert.ok(existsSync(path.join(dir, '.x.dfget.cache.p')), 'the link goes, not its target');
  assert.equal(existsSync(p), false);
  const keep = path.join(dir, 'rm2', peer);
  mkdirSync(keep, { recursive: true });
  writeFileSync(path.join(keep, 'data'), 'd');
  writeFileSync(path.join(keep, 'user-file'), 'u');
  assert.equal(await removePeerDir(keep), false);
  assert.deepEqual(readdirSync(keep), ['user-file']);
  const target = path.join(dir, 'target');
  mkdirSync(target);
  writeFileSync(path.join(target, 'data'), 'precious');
  const link = path.join(dir, 'rm3', peer);
  mkdirSync(path.dirname(link), { recursive: true });
  symlinkSync(target, link);
  assert.equal(await removePeerDir(link), false);
  assert.deepEqual(readdirSync(target), ['data']);
  assert.equal(await removePeerDir(path.join(dir, 'not-a-peer-name')), false);
});
