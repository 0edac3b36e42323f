import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ReaderClaims } from '../../../src/storage/reader-claims.js';
import { pidNamespace, pidScope } from '../../../src/storage/task-lock.js';

const TASK = 'a'.repeat(64);
const PEER = '127.0.0.1-1-claims';

function root(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-claims-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a claim is seen by another reader of the store until its last in-process holder releases it', async (t) => {
  const dir = root(t);
  const mine = new ReaderClaims(path.join(dir, '.claims'), 60_000);
  const theirs = new ReaderClaims(path.join(dir, '.claims'), 60_000);
  assert.equal(await theirs.claimed(TASK, PEER), false);
  const a = await mine.claim(TASK, PEER);
  const b = await mine.claim(TASK, PEER);
  assert.equal(readdirSync(path.join(dir, '.claims')).length, 1, 'one file per process and entry');
  assert.equal(await theirs.claimed(TASK, PEER), true);
  assert.equal(await theirs.claimed(TASK, '127.0.0.1-1-other'), false, 'another peer of the task is not claimed');
  await a.release();
  await a.release();
  assert.equal(await theirs.claimed(TASK, PEER), true, 'b still holds it');
  await b.release();
  assert.equal(await theirs.claimed(TASK, PEER), false);
});

test('a dead process’s claim does not count and is removed; another host’s counts until it is stale', async (t) => {
  const dir = root(t);
  const claims = new ReaderClaims(path.join(dir, '.claims'), 60_000);
  const claimsDir = path.join(dir, '.claims');
  mkdirSync(claimsDir, { recursive: true });
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  writeFileSync(path.join(claimsDir, `${TASK}~${PEER}~${pidScope()}~${dead}~00`), '');
  assert.equal(await claims.claimed(TASK, PEER), false);
  assert.deepEqual(readdirSync(claimsDir), [], 'the dead claim is gone');
  // The same hostname in another pid namespace (a container on the host's network): the pid means
  // nothing here, so the claim counts while it is fresh.
  if (pidNamespace()) {
    const container = path.join(claimsDir, `${TASK}~${PEER}~${os.hostname()}@1~${dead}~00`);
    writeFileSync(container, '');
    assert.equal(await claims.claimed(TASK, PEER), true, 'another pid namespace, fresh');
    rmSync(container);
  }
  const remote = path.join(claimsDir, `${TASK}~${PEER}~another-host.example~1~00`);
  writeFileSync(remote, '');
  assert.equal(await claims.claimed(TASK, PEER), true, 'another host, fresh');
  const old = new Date(Date.now() - 120_000);
  utimesSync(remote, old, old);
  assert.equal(await claims.claimed(TASK, PEER), false, 'another host, silent for longer than the stale time');
});

test('releaseAll lets go of every claim this process holds', async (t) => {
  const dir = root(t);
  const claims = new ReaderClaims(path.join(dir, '.claims'), 60_000);
  await claims.claim(TASK, PEER);
  await claims.claim('b'.repeat(64), PEER);
  await claims.releaseAll();
  assert.equal(await claims.claimed(TASK, PEER), false);
  assert.equal(await claims.claimed('b'.repeat(64), PEER), false);
});
