import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TMP_MARK, tmpSuffix } from '../../../src/storage/fs-util.js';
import { isLeftover, isOutputTempName, sweepOutputTemps, tempOwnerPid } from '../../../src/storage/leftovers.js';

let dir: string;
before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-leftovers-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}

function file(name: string, ageMs: number): string {
  const p = path.join(dir, name);
  writeFileSync(p, 'x');
  const t = new Date(Date.now() - ageMs);
  utimesSync(p, t, t);
  return p;
}

test('the owner pid is read from every temp name of ours: outputs, store files, locks', () => {
  assert.equal(tempOwnerPid(`${TMP_MARK}4242.0a1b2c3d`), 4242);
  assert.equal(tempOwnerPid(`/x/${TMP_MARK}metadata.4242.0a1b2c3d`), 4242);
  assert.equal(tempOwnerPid(`${TMP_MARK}${'1'.repeat(64)}.4242.0a1b2c3d`), 4242);
  assert.equal(tempOwnerPid(`${TMP_MARK}lock.${tmpSuffix()}`), process.pid);
  assert.equal(tempOwnerPid('notes.txt'), undefined);
});

test("an output temp name is exactly materialize's shape", () => {
  assert.equal(isOutputTempName(`${TMP_MARK}${tmpSuffix()}`), true);
  for (const n of [
    `${TMP_MARK}metadata.1.0a1b2c3d`,
    `${TMP_MARK}1.0a1b2c3`,
    `${TMP_MARK}1.0a1b2c3d.sif`,
    `x${TMP_MARK}1.0a1b2c3d`,
    `${TMP_MARK}1.0A1B2C3D`,
    'img.sif',
  ])
    assert.equal(isOutputTempName(n), false, n);
});

test('a leftover is a regular file whose owner is dead here, and old', async () => {
  const dead = await deadPid();
  assert.equal(await isLeftover(file(`${TMP_MARK}${dead}.00000001`, 60 * 60_000)), true);
  assert.equal(await isLeftover(file(`${TMP_MARK}${dead}.00000002`, 1000)), false, 'recent');
  assert.equal(await isLeftover(file(`${TMP_MARK}${process.pid}.00000003`, 60 * 60_000)), false, 'alive');
  const d = path.join(dir, `${TMP_MARK}${dead}.00000004`);
  mkdirSync(d);
  utimesSync(d, new Date(0), new Date(0));
  assert.equal(await isLeftover(d), false, 'a directory is never ours');
  assert.equal(await isLeftover(path.join(dir, 'missing')), false);
});

test('the sweep of an output directory removes the leftovers only, logs each, and never fails', async () => {
  const dead = await deadPid();
  const sub = path.join(dir, 'out');
  mkdirSync(sub);
  const gone = path.join(sub, `${TMP_MARK}${dead}.0000000a`);
  writeFileSync(gone, 'partial');
  utimesSync(gone, new Date(0), new Date(0));
  const other = path.join(sub, `${TMP_MARK}metadata.${dead}.0000000b`);
  writeFileSync(other, 'not an output temp');
  utimesSync(other, new Date(0), new Date(0));
  const lines: string[] = [];
  assert.deepEqual(await sweepOutputTemps(sub, (...a) => void lines.push(a.join(' '))), [gone]);
  assert.equal(existsSync(gone), false);
  assert.ok(existsSync(other));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, new RegExp(`${dead}`));
  assert.deepEqual(await sweepOutputTemps(path.join(dir, 'missing'), () => {}), []);
});

test('a fresh temp link of old data is not a leftover: its age is the link’s, not the data’s mtime', async () => {
  const dead = await deadPid();
  // Another host's pull between its link and its rename: the data was completed an hour ago.
  const data = file('completed-data', 60 * 60_000);
  const link = path.join(dir, `${TMP_MARK}${dead}.0000000a`);
  linkSync(data, link);
  assert.equal(await isLeftover(link), false);
  // A lone old file of the same shape still is.
  assert.equal(await isLeftover(file(`${TMP_MARK}${dead}.0000000b`, 60 * 60_000)), true);
});
