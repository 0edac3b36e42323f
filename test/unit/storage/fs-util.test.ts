import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errno, rmdirQuiet, TMP_MARK, tmpSuffix, unlinkQuiet, writeFileAtomic } from '../../../src/storage/fs-util.js';
import { StorageError } from '../../../src/core/errors.js';

let dir: string;
before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-fsutil-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

test('writeFileAtomic replaces the file whole, sets the mtime asked for, and leaves no temp file', async () => {
  const f = path.join(dir, 'metadata');
  writeFileSync(f, 'old');
  await writeFileAtomic(f, '{"done":true}', { mtimeMs: 1_700_000_000_000 });
  assert.equal(readFileSync(f, 'utf8'), '{"done":true}');
  assert.equal(Math.round(statSync(f).mtimeMs), 1_700_000_000_000);
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.startsWith(TMP_MARK)),
    [],
  );
});

test('writeFileAtomic into a missing directory is a StorageError, and the temp file is gone', async () => {
  await assert.rejects(writeFileAtomic(path.join(dir, 'nope', 'f'), 'x'), StorageError);
});

test('unlinkQuiet and rmdirQuiet ignore what is already gone; unlinkQuiet still reports other errors', async () => {
  await unlinkQuiet(path.join(dir, 'missing'));
  await rmdirQuiet(path.join(dir, 'missing-dir'));
  mkdirSync(path.join(dir, 'full'));
  writeFileSync(path.join(dir, 'full', 'x'), 'x');
  await rmdirQuiet(path.join(dir, 'full')); // not empty: kept
  assert.ok(statSync(path.join(dir, 'full')).isDirectory());
  await assert.rejects(
    unlinkQuiet(path.join(dir, 'full')),
    (e: unknown) => errno(e) === 'EISDIR' || errno(e) === 'EPERM',
  );
});

test('tmpSuffix is unique per call and names the process', () => {
  const a = tmpSuffix();
  assert.notEqual(a, tmpSuffix());
  assert.ok(a.startsWith(`${process.pid}.`));
  assert.equal(errno({ code: 'ENOENT' }), 'ENOENT');
  assert.equal(errno('no'), undefined);
});
